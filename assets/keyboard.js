/* Keyboard use of the HUD's clickable elements that are not native buttons (role="button", such as the
   Hero Grid's agent cards):
   - Enter and Space answer as a click does, as on a native button;
   - a focused card keeps the focus across the grid's refreshes: a refresh replaces a changed card's
     element, which dropped the focus to the page (a keyboard user lost their place every 2 s). When the
     focused card's element leaves the page and nothing else took the focus, its successor (same
     data-agent) gets it. */
(function () {
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter" && ev.key !== " ") { return; }
    var el = ev.target;
    if (!el || el.getAttribute("role") !== "button" || el.tagName === "BUTTON") { return; }
    ev.preventDefault();  // Space would scroll the page
    el.click();
  });

  var focused = null;  // the focused card's element, while a card has the focus
  document.addEventListener("focusin", function (ev) {
    var el = ev.target;
    focused = el && el.getAttribute && el.getAttribute("role") === "button" && el.hasAttribute("data-agent")
      ? el : null;
  });

  function refocus() {
    if (!focused || focused.isConnected) { return; }
    var active = document.activeElement;
    if (active && active !== document.body) { focused = null; return; }  // the user moved on
    var agent = focused.getAttribute("data-agent");
    var again = document.querySelector('[role="button"][data-agent="' + CSS.escape(agent) + '"]');
    if (again) { again.focus({ preventScroll: true }); }
  }

  function watch() { new MutationObserver(refocus).observe(document.body, { childList: true, subtree: true }); }
  if (document.body) { watch(); } else { document.addEventListener("DOMContentLoaded", watch); }
})();
