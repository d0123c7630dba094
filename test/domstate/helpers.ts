import { domainDirectoryRevision } from '../../src/formats/domstate/abi.ts';
import { DomainDirectoryWriter } from '../../src/formats/domstate/writer.ts';
import { createSharedRegion } from '../../src/shm/region.ts';

export const ABI = domainDirectoryRevision(1);

/** A fresh directory in a SharedArrayBuffer region, owned by pid 4242 started at tick 777. */
export function freshDirectory() {
  const size = DomainDirectoryWriter.plan(ABI).regionSize;
  const region = createSharedRegion(size, 'test-directory');
  const writer = DomainDirectoryWriter.create(region, ABI, { ownerPid: 4242, ownerStartTime: 777n });
  return { region, writer };
}
