/* Says honestly whether the page is live. Two signs, either is enough to say it is not:
   - every 5 s it asks /healthz (is the database answering; a 200 in normal times, so no console noise):
     no answer, or an answer that the database is unreachable;
   - the page's own updates (Dash callbacks, which every page runs at least every few seconds for the
     header's figures): one has been waiting longer than LATE_MS, or the last FAILS_TO_STALE in a row
     failed. A loaded machine answers /healthz but leaves the Pulse frozen: this catches that too.
   Then a banner says so, with the time of the last good update; the navbar's LIVE turns STALE and the
   page's live figures are dimmed (body.hud-stale, shell.css). When updates flow again, all of it returns.
   It works when Dash's callbacks are failing, which is exactly when it is needed. The banner's element
   is `.hud-connection`, the navbar's indicator `.hud-live` (no ids: a script cannot import the layout's
   constants). */
(function () {
  var EVERY_MS = 5000;
  var LATE_MS = 15000;
  var FAILS_TO_STALE = 2;
  var lastGood = null;
  var healthProblem = null;
  var pending = {};
  var nextId = 0;
  var failures = 0;
  var unreachable = false;  // the last update got no answer at all (not an error answer)

  function lateAfter() { return window.HUD_LATE_MS || LATE_MS; }  // tests shorten it

  function banner() { return document.querySelector(".hud-connection"); }

  function since() {
    return lastGood ? " (last good update at " + lastGood.toLocaleTimeString() + ")" : "";
  }

  function oldestPendingMs() {
    var now = Date.now(), oldest = 0;
    Object.keys(pending).forEach(function (k) { oldest = Math.max(oldest, now - pending[k]); });
    return oldest;
  }

  // The one place that decides what the page says: the first problem found, or nothing.
  function problem() {
    if (healthProblem) { return healthProblem; }
    if (failures >= FAILS_TO_STALE) {
      if (unreachable) { return "Helicarrier is not answering: figures on this page are not updating"; }
      return "Updates are failing: figures on this page are not updating";
    }
    var waited = oldestPendingMs();
    if (waited > lateAfter()) {
      return "Updates are late (waiting " + Math.round(waited / 1000) + " s): figures on this page may be out of date";
    }
    return null;
  }

  var shown;  // what the page says now: touch the DOM only when it changes (the check runs every second)

  function render() {
    var text = problem();
    var el = banner();
    var said = text ? text + since() + ". Retrying." : null;
    if (said === shown && (!el || el.hidden === !said)) { return; }
    shown = said;
    if (text) {
      if (el) { el.textContent = said; el.hidden = false; }
      document.body.classList.add("hud-stale");
      document.querySelectorAll(".hud-live-text").forEach(function (t) { t.textContent = "STALE"; });
    } else {
      if (el) { el.hidden = true; el.textContent = ""; }
      document.body.classList.remove("hud-stale");
      document.querySelectorAll(".hud-live-text").forEach(function (t) { t.textContent = "LIVE"; });
    }
  }

  function good() { lastGood = new Date(); }

  function probe() {
    fetch("/healthz", { cache: "no-store", credentials: "same-origin" })
      .then(function (resp) { return resp.json().then(function (body) { return [resp.status, body]; }); })
      .then(function (answer) {
        healthProblem = answer[0] === 200 ? null
          : "The database is unreachable: figures on this page are not updating";
        render();
      })
      .catch(function () {
        healthProblem = "Helicarrier is not answering: figures on this page are not updating";
        render();
      });
  }

  // Dash sends its callbacks with the global fetch, looked up at each call: wrapping it here sees them all.
  var realFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    var url = typeof input === "string" ? input : (input && input.url) || "";
    if (url.indexOf("_dash-update-component") === -1) { return realFetch(input, init); }
    var id = nextId++;
    pending[id] = Date.now();
    return realFetch(input, init).then(function (resp) {
      delete pending[id];
      // 204 is a callback that chose not to update: an answer all the same.
      unreachable = false;
      if (resp.ok) { failures = 0; good(); } else { failures += 1; }
      render();
      return resp;
    }, function (err) {
      delete pending[id];
      failures += 1;
      unreachable = true;
      render();
      throw err;
    });
  };

  setInterval(probe, EVERY_MS);
  setInterval(render, 1000);  // a request that never answers is noticed while it waits
  window.addEventListener("load", probe);
})();
