/* Says honestly whether the page is connected: every 5 s it asks /healthz (is the database answering; a
   200 in normal times, so no console noise). When the server does not answer,
   or answers that its database is unreachable, a banner says so (with the time of the last good answer)
   and the navbar's LIVE turns STALE; when it is back, both return. It works when Dash's own callbacks are
   failing, which is exactly when it is needed. The banner's element is `.hud-connection`, the navbar's
   indicator `.hud-live` (no ids: a script cannot import the layout's constants). */
(function () {
  var EVERY_MS = 5000;
  var lastGood = null;

  function banner() { return document.querySelector(".hud-connection"); }

  function show(text) {
    var el = banner();
    if (el) { el.textContent = text; el.hidden = false; }
    document.body.classList.add("hud-stale");
    document.querySelectorAll(".hud-live-text").forEach(function (t) { t.textContent = "STALE"; });
  }

  function clear() {
    var el = banner();
    if (el) { el.hidden = true; el.textContent = ""; }
    document.body.classList.remove("hud-stale");
    document.querySelectorAll(".hud-live-text").forEach(function (t) { t.textContent = "LIVE"; });
  }

  function since() {
    return lastGood ? " (last good answer at " + lastGood.toLocaleTimeString() + ")" : "";
  }

  function probe() {
    fetch("/healthz", { cache: "no-store", credentials: "same-origin" })
      .then(function (resp) { return resp.json().then(function (body) { return [resp.status, body]; }); })
      .then(function (answer) {
        if (answer[0] !== 200) {
          show("The database is unreachable: figures on this page are not updating" + since() + ". Retrying.");
        } else {
          lastGood = new Date();
          clear();
        }
      })
      .catch(function () {
        show("Helicarrier is not answering: figures on this page are not updating" + since() + ". Retrying.");
      });
  }

  setInterval(probe, EVERY_MS);
  window.addEventListener("load", probe);
})();
