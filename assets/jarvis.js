/* Jarvis Terminal: up/down arrows recall what was sent (kept per browser tab in sessionStorage), and the
   transcript stays scrolled to the newest line unless the operator scrolled up to read.
   It finds the terminal by the classes helicarrier/layouts/command.py gives it (.terminal holding the task
   <input>, .terminal-send and .terminal-output), never by component id: the ids are defined in Python only. */
(function () {
  var KEY = "helicarrier.jarvis.history";
  var MAX = 50;
  var pos = null; // index in the history while browsing it with the arrows
  var draft = ""; // what was typed before browsing

  function load() {
    try {
      var h = JSON.parse(window.sessionStorage.getItem(KEY) || "[]");
      return Array.isArray(h) ? h : [];
    } catch (e) {
      return [];
    }
  }

  function save(h) {
    try {
      window.sessionStorage.setItem(KEY, JSON.stringify(h.slice(-MAX)));
    } catch (e) {
      /* storage full or disabled: recall just does not work */
    }
  }

  function inputOf(el) {
    if (!el || el.tagName !== "INPUT") { return null; }
    return el.closest && el.closest(".terminal") ? el : null;
  }

  // A React-controlled input: set through the native setter, then tell React with an input event.
  function setValue(el, value) {
    var setter = Object.getOwnPropertyDescriptor(window.HTMLInputElement.prototype, "value").set;
    setter.call(el, value);
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.setSelectionRange(value.length, value.length);
  }

  function remember(el) {
    var value = (el.value || "").trim();
    pos = null;
    if (!value) { return; }
    var h = load();
    if (h[h.length - 1] !== value) {
      h.push(value);
      save(h);
    }
  }

  document.addEventListener("keydown", function (ev) {
    var el = inputOf(ev.target);
    if (!el) { return; }
    if (ev.key === "Enter") {
      remember(el);
      return;
    }
    if (ev.key !== "ArrowUp" && ev.key !== "ArrowDown") { return; }
    var h = load();
    if (!h.length) { return; }
    ev.preventDefault();
    if (ev.key === "ArrowUp") {
      if (pos === null) {
        draft = el.value || "";
        pos = h.length - 1;
      } else {
        pos = Math.max(0, pos - 1);
      }
      setValue(el, h[pos]);
    } else if (pos !== null) {
      pos += 1;
      if (pos >= h.length) {
        pos = null;
        setValue(el, draft);
      } else {
        setValue(el, h[pos]);
      }
    }
  }, true);

  document.addEventListener("click", function (ev) {
    var button = ev.target && ev.target.closest && ev.target.closest(".terminal-send");
    var terminal = button && button.closest(".terminal");
    var el = terminal && terminal.querySelector("input");
    if (el) { remember(el); }
  }, true);

  var lastHeight = 0;
  setInterval(function () {
    var out = document.querySelector(".terminal .terminal-output");
    if (!out || out.scrollHeight === lastHeight) { return; }
    var nearBottom = out.scrollTop + out.clientHeight >= lastHeight - 40;
    lastHeight = out.scrollHeight;
    if (nearBottom) { out.scrollTop = out.scrollHeight; }
  }, 300);
})();
