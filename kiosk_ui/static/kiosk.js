// The kiosk's page behaviour: pushed reader and session events (EventSource), touches reported to
// the runtime (the 60 s idle timeout is kept there), the PIN keypad, and timing marks the browser
// tests read (window.kioskTimings).
(function () {
  "use strict";
  var body = document.body;
  var page = body.dataset.page;
  var timings = (window.kioskTimings = window.kioskTimings || {});
  var now = function () { return performance.timeOrigin + performance.now(); };

  function say(text) {
    var el = document.getElementById("card-status");
    if (el) { el.textContent = text; }
  }
  function banner(text) { document.getElementById("banner").textContent = text || ""; }
  // A page already on its way (a form it submitted, which ends where the session says) is not
  // sent elsewhere by a pushed event: two navigations at once abort one another.
  function go(url) {
    if (body.dataset.leaving) { return; }
    if (location.pathname + location.search !== url) { location.assign(url); }
  }

  var events = body.dataset.events;
  if (events) {
    var source = new EventSource(events);
    window.kioskEvents = source;
    source.addEventListener("card_presented", function (e) {
      var d = JSON.parse(e.data);
      say(body.dataset.msgReading);
      requestAnimationFrame(function () {
        timings.cardPresented = { reported: d.reported_ms, shown: now() };
        sessionStorage.setItem("cardPresented", JSON.stringify(timings.cardPresented));
      });
    });
    source.addEventListener("card_ready", function () { go("/kiosk/pin"); });
    source.addEventListener("card_refused", function (e) {
      var d = JSON.parse(e.data);
      say(body.getAttribute("data-msg-refused-" + d.code) || body.getAttribute("data-msg-refused-other"));
    });
    source.addEventListener("ended", function (e) {
      var d = JSON.parse(e.data);
      go("/kiosk/?ended=" + encodeURIComponent(d.reason));
    });
    source.addEventListener("state", function (e) {
      var d = JSON.parse(e.data);
      if (page === "welcome" && d.card && !d.signed_in) { go("/kiosk/pin"); }
      if (page !== "welcome" && page !== "offline" && !d.card) {
        go(d.ended ? "/kiosk/?ended=" + encodeURIComponent(d.ended) : "/kiosk/");
      }
      banner(d.reader ? (d.network ? "" : body.dataset.msgNetworkDown) : body.dataset.msgReaderDown);
    });
    source.addEventListener("status", function (e) {
      var d = JSON.parse(e.data);
      banner(d.reader ? (d.network ? "" : body.dataset.msgNetworkDown) : body.dataset.msgReaderDown);
    });
  }

  // Touches keep the session alive; the runtime ends it after 60 s without one.
  var lastTouch = 0;
  function touched() {
    var t = Date.now();
    if (t - lastTouch > 1000 && events) {
      lastTouch = t;
      fetch("/kiosk/touch", { method: "POST", keepalive: true }).catch(function () {});
    }
  }
  document.addEventListener("pointerdown", touched, true);
  document.addEventListener("keydown", touched, true);

  // The PIN keypad types into the field it names.
  document.querySelectorAll("[data-keypad]").forEach(function (pad) {
    var field = document.getElementById(pad.dataset.keypad);
    pad.addEventListener("click", function (e) {
      var b = e.target.closest("button");
      if (!b) { return; }
      if (b.dataset.digit !== undefined && field.value.length < 6) { field.value += b.dataset.digit; }
      if (b.dataset.clear !== undefined) { field.value = ""; }
      field.focus();
    });
  });
  var pinForm = document.getElementById("pin-form");
  if (pinForm) {
    pinForm.addEventListener("submit", function () {
      sessionStorage.setItem("pinSubmittedAt", String(Date.now()));
    });
  }
  if (page === "home") {
    var sent = Number(sessionStorage.getItem("pinSubmittedAt") || 0);
    sessionStorage.removeItem("pinSubmittedAt");
    var mark = function () { if (sent) { timings.homeInteractiveMs = Date.now() - sent; } };
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", mark); } else { mark(); }
  }
})();
