// Runs before any script of every document (Page.addScriptToEvaluateOnNewDocument).
//
// 1. It turns assignments to window.prerenderReady into binding calls, so the
//    renderer hears about `prerenderReady = true` the moment the page says it,
//    without polling. `var prerenderReady = false` at top level goes through
//    the setter too, because the property already exists on window.
// 2. It counts the page's short timers (setTimeout under SHORT_TIMER ms) and
//    offers a settle function: once the network has been quiet for the idle
//    window, the renderer awaits it before it snapshots. Settle resolves when
//    no short timer is pending (or after SETTLE_CAP ms) and one more task has
//    run, so content that a timer adds after the last request, and work a
//    starved main thread had not reached yet, land before the snapshot.
(() => {
  if (window.top !== window) {
    return;
  }
  const report = globalThis.__prerenderdReady;
  if (typeof report !== 'function') {
    return;
  }
  // The page has no business calling the binding itself.
  try {
    delete globalThis.__prerenderdReady;
  } catch (e) {}
  let value;
  Object.defineProperty(window, 'prerenderReady', {
    configurable: true,
    enumerable: true,
    get() {
      return value;
    },
    set(v) {
      value = v;
      try {
        report(v === true ? 'true' : v === false ? 'false' : 'unset');
      } catch (e) {}
    },
  });

  // A timer this short is part of building the page (a debounce, a
  // transition, "render after the data came"); a longer one is a clock, a
  // poll or a carousel, and is not waited for.
  const SHORT_TIMER = 1000;
  // Settle never waits longer than this for short timers: a page that keeps
  // re-arming one (an animation on setTimeout) is taken as it is then.
  const SETTLE_CAP = 1000;

  const nativeSet = window.setTimeout;
  const nativeClear = window.clearTimeout;
  const pending = new Set();
  let waiters = [];

  const changed = () => {
    if (pending.size > 0 || waiters.length === 0) {
      return;
    }
    const ws = waiters;
    waiters = [];
    ws.forEach((w) => w());
  };

  const setTimeout = function (handler, delay, ...args) {
    const ms = Number(delay) || 0;
    if (typeof handler !== 'function' || !(ms < SHORT_TIMER)) {
      return nativeSet.call(window, handler, delay, ...args);
    }
    let id;
    id = nativeSet.call(
      window,
      function () {
        try {
          return handler.apply(this, args);
        } finally {
          // After the handler: the timers it starts are pending by now.
          pending.delete(id);
          changed();
        }
      },
      delay,
    );
    pending.add(id);
    return id;
  };
  const clearTimeout = function (id) {
    nativeClear.call(window, id);
    if (pending.delete(id)) {
      changed();
    }
  };
  // Pages (and bot checks) that look at the source still see native code.
  const nativeSetText = Function.prototype.toString.call(nativeSet);
  const nativeClearText = Function.prototype.toString.call(nativeClear);
  Object.defineProperty(setTimeout, 'toString', { value: () => nativeSetText });
  Object.defineProperty(clearTimeout, 'toString', { value: () => nativeClearText });
  Object.defineProperty(setTimeout, 'name', { value: 'setTimeout' });
  Object.defineProperty(clearTimeout, 'name', { value: 'clearTimeout' });
  window.setTimeout = setTimeout;
  window.clearTimeout = clearTimeout;

  // settle resolves with the number of short timers it waited for.
  const settle = () =>
    new Promise((resolve) => {
      const waited = pending.size;
      let over = false;
      const done = () => {
        if (over) {
          return;
        }
        over = true;
        nativeClear.call(window, cap);
        // One more task: work already queued (a response being handled)
        // runs first, and starts its requests before we answer.
        nativeSet.call(window, () => resolve(waited), 0);
      };
      const cap = nativeSet.call(window, done, SETTLE_CAP);
      if (pending.size === 0) {
        done();
      } else {
        waiters.push(done);
      }
    });
  Object.defineProperty(window, Symbol.for('prerenderd.settle'), { value: settle });
})();
