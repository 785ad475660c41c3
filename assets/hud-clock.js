/* Ticks relative times in the browser, once a second, so the server never resends a card just because a
   clock moved: `.hc-since[data-since]` shows the time since an ISO timestamp (session runtime) and
   `.hc-heartbeat[data-heartbeat-of]` the time since that agent's last heartbeat, looked up in
   window.hcHeartbeats (filled from a dcc.Store by a clientside callback). */
(function () {
  function fmt(seconds) {
    if (!isFinite(seconds)) { return "–"; }
    var s = Math.max(0, Math.floor(seconds));
    if (s < 60) { return s + "s"; }
    if (s < 3600) { return Math.floor(s / 60) + "m " + String(s % 60).padStart(2, "0") + "s"; }
    return Math.floor(s / 3600) + "h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
  }
  function since(iso) { return iso ? (Date.now() - Date.parse(iso)) / 1000 : NaN; }
  window.hcTick = function () {
    var hb = window.hcHeartbeats || {};
    document.querySelectorAll(".hc-since[data-since]").forEach(function (el) {
      var t = fmt(since(el.getAttribute("data-since")));
      if (el.textContent !== t) { el.textContent = t; }
    });
    document.querySelectorAll(".hc-heartbeat[data-heartbeat-of]").forEach(function (el) {
      var t = fmt(since(hb[el.getAttribute("data-heartbeat-of")]));
      if (el.textContent !== t) { el.textContent = t; }
    });
  };
  setInterval(window.hcTick, 1000);
})();
