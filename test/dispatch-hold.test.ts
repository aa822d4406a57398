import t from 'tap';
import { DispatchHold } from '../proxy/dispatch-hold.js';

/**
 * A clock and timers the test moves by hand. The first timer fires `lag` ms early, as one set
 * late in a long turn of the event loop does; later ones fire on time.
 */
function fakeTime(lag: number) {
  let now = 1_000;
  const timers: Array<{ at: number; fn: () => void }> = [];
  return {
    clock: () => now,
    after: (fn: () => void, ms: number) => {
      const timer = { at: now + ms - lag, fn };
      timers.push(timer);
      lag = 0;
      return {
        cancel: () => {
          const i = timers.indexOf(timer);
          if (i >= 0) timers.splice(i, 1);
        },
      };
    },
    /** Moves the clock to `to`, firing each timer due by then. */
    advance(to: number) {
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const next = timers[0];
        if (!next || next.at > to) break;
        timers.shift();
        now = Math.max(now, next.at);
        next.fn();
      }
      now = to;
    },
  };
}

t.test(
  'wakes once the pause is over by the clock it is judged by, though its timer fires early',
  async (t) => {
    const time = fakeTime(30); // the turn that paused had run 30 ms past the loop's cached time
    const wakes: boolean[] = [];
    const hold = new DispatchHold(() => wakes.push(hold.held()), time.clock, time.after);
    hold.holdFor(100);
    t.ok(hold.held(), 'held at once');
    time.advance(1_080);
    t.same(wakes, [], 'not woken while still held');
    time.advance(1_100);
    t.same(wakes, [false], 'woken once, no longer held');
    time.advance(2_000);
    t.same(wakes, [false], 'and only once');
  },
);

t.test('a closed pause (its term is over) never wakes', async (t) => {
  const time = fakeTime(0);
  let woken = 0;
  const hold = new DispatchHold(() => woken++, time.clock, time.after);
  hold.holdFor(100);
  hold.close();
  time.advance(5_000);
  t.equal(woken, 0, 'no wake after close');
});

t.test('a pause of nothing wakes at once', async (t) => {
  const time = fakeTime(0);
  let woken = 0;
  const hold = new DispatchHold(() => woken++, time.clock, time.after);
  hold.holdFor(0);
  t.equal(woken, 1);
  t.notOk(hold.held());
});

t.test(
  'with real timers: the wake comes after the pause even when it started in the past',
  async (t) => {
    const alive = setInterval(() => {}, 1000); // the hold's timer does not keep a process up
    t.teardown(() => clearInterval(alive));
    // a pause counted from a clock read 40 ms ahead of the loop's: its timer fires early
    const end = Date.now() + 40 + 50;
    const woke = new Promise<number>((resolve) => {
      const hold = new DispatchHold(() => resolve(Date.now()));
      hold.holdFor(50, end - 50);
    });
    t.ok((await woke) >= end, 'not before the pause ends');
  },
);
