// The ABI pages' Markdown, rendered for the page: markdown-it turns it into HTML, DOMPurify keeps
// only inert HTML of it. The generated docs carry raw HTML of their own (a comment, <a id> anchors
// for the links between sections), so markdown-it must pass HTML through, and a schema's doc text
// is whatever its author wrote: the sanitizer is what makes that safe, not the generator.
//
// Two rules on top of DOMPurify's defaults:
// - ids and names come out prefixed (`user-content-`), so a doc cannot take the id of one of the
//   page's own elements; in-document links (#x) are rewritten to match;
// - a relative link (the docs link to files of the repository, next to docs/abi/) has nothing to
//   point at here: it becomes its text, with the target in a title.
/* global markdownit, DOMPurify */
(() => {
  const md = markdownit({ html: true, linkify: false, typographer: false });
  const PREFIX = 'user-content-';

  function tidyLinks(root) {
    for (const a of root.querySelectorAll('a[href]')) {
      const href = a.getAttribute('href');
      if (href.startsWith('#')) {
        a.setAttribute('href', `#${PREFIX}${href.slice(1)}`);
      } else if (!/^[a-z][a-z0-9+.-]*:/i.test(href)) {
        const span = document.createElement('span');
        span.className = 'repo-link';
        span.title = `in the repository, relative to docs/abi/: ${href}`;
        span.append(...a.childNodes);
        a.replaceWith(span);
      } else {
        a.setAttribute('rel', 'noopener noreferrer');
      }
    }
  }

  /** Markdown text → a fragment of sanitized nodes. */
  function renderMarkdown(text) {
    const fragment = DOMPurify.sanitize(md.render(text), {
      RETURN_DOM_FRAGMENT: true,
      SANITIZE_NAMED_PROPS: true,
      FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select'],
    });
    tidyLinks(fragment);
    return fragment;
  }

  globalThis.hvkitMarkdown = renderMarkdown;
})();
