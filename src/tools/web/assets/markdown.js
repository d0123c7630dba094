// The ABI pages' Markdown, rendered for the page: markdown-it turns it into HTML, DOMPurify keeps
// only inert HTML of it. The generated docs carry raw HTML of their own: a comment and <a id>
// anchors for the links between sections. Those pass; any other raw HTML is shown as the text it
// is, since a schema's doc text is whatever its author wrote and `<pid>` there is a placeholder,
// not a tag. The sanitizer stays as the second line of defence (the page's CSP is the third).
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
  const ANCHOR_BLOCK = /^<a id="[A-Za-z0-9_.:-]+"><\/a>\s*$/;
  const ANCHOR_OPEN = /^<a id="[A-Za-z0-9_.:-]+">$/;
  // One comment, nothing after it: no `-->` inside.
  const COMMENT = /^<!--(?:(?!-->)[\s\S])*-->\s*$/;
  const escapeHtml = md.utils.escapeHtml;
  md.renderer.rules.html_block = (tokens, i) => {
    const html = tokens[i].content;
    return ANCHOR_BLOCK.test(html) || COMMENT.test(html) ? html : `<p>${escapeHtml(html)}</p>`;
  };
  // Inline, an anchor is two tokens: `<a id="…">` and, right after it, `</a>`.
  const anchorAt = (tokens, i) => tokens[i]?.type === 'html_inline' && ANCHOR_OPEN.test(tokens[i].content);
  md.renderer.rules.html_inline = (tokens, i) => {
    const html = tokens[i].content;
    const allowed = ANCHOR_OPEN.test(html) || (html === '</a>' && anchorAt(tokens, i - 1)) || COMMENT.test(html);
    return allowed ? html : escapeHtml(html);
  };

  function tidyLinks(root) {
    for (const a of root.querySelectorAll('a[href]')) {
      const href = a.getAttribute('href');
      if (href.startsWith('#')) {
        // markdown-it percent-encodes the fragment; the id it names is the decoded text.
        let id = href.slice(1);
        try {
          id = decodeURIComponent(id);
        } catch {
          // not valid percent-encoding: the fragment as written
        }
        a.setAttribute('href', `#${PREFIX}${encodeURIComponent(id)}`);
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
