// Runs before any script of every document (Page.addScriptToEvaluateOnNewDocument).
// It turns assignments to window.prerenderReady into binding calls, so the
// renderer hears about `prerenderReady = true` the moment the page says it,
// without polling. `var prerenderReady = false` at top level goes through the
// setter too, because the property already exists on window.
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
})();
