/**
 * The Node.js options the proxy is launched with, in one place: `npm start`, the image's
 * entry point and the benchmark run it this way (`test/node-flags.test.ts` holds them to this
 * list). The `petrel-proxy` bin and `node dist/proxy/main.js` run the same with V8's defaults
 * (a first line `#!/usr/bin/env -S node …` would not start where `env` has no `-S`, as
 * BusyBox's); give them these options, or `NODE_OPTIONS`, to match. The node program takes
 * V8's defaults.
 *
 * `--max-semi-space-size=64` (MB) lets the proxy's young generation grow to 128 MB instead
 * of 32. Under load a job lives a few hundred milliseconds in the proxy (its row, its frames,
 * its result until the origin has it), longer than V8's default young generation takes to
 * fill, so about half of what the proxy allocates survived a scavenge and was copied, often
 * twice. With room for 64 MB a scavenge comes about a second apart and most of a job's
 * objects are gone by then: in the scale scenario (1,000 nodes) a fifth of the young bytes
 * survive instead of a half, the scavenges' time per MB allocated halves, and the proxy
 * makes 1.10× the dispatches per CPU-second of the same build without the option (loaded in
 * turn); against an older release 32 MB gained a third of what 64 did, 128 MB no more. V8
 * grows the space only as far as the load takes it: the proxy's RSS under that load is 322 MB
 * against 208 without.
 */
export const PROXY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];
