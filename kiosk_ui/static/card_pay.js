// Paying by bank card on Stripe's element: the card goes to Stripe only. Before confirming, the
// page tells the kiosk runtime (which then waits for the outcome if the card is pulled); after,
// it reports Stripe's answer, and the runtime asks card_service whether money really moved.
(function () {
  "use strict";
  var box = document.getElementById("card-pay-box");
  if (!box || typeof Stripe === "undefined") { return; }
  var stripe = Stripe(box.dataset.key);
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  var button = document.getElementById("card-pay");
  var form = document.getElementById("card-finish");
  var status = document.getElementById("card-status");
  function finish(error) {
    form.elements.error.value = error;
    document.body.dataset.leaving = "1";  // the answer to this form is where the kiosk goes next
    form.submit();
  }
  button.addEventListener("click", function () {
    button.disabled = true;
    status.textContent = box.dataset.msgWorking;
    fetch("/kiosk/pay/" + box.dataset.op + "/start", { method: "POST" })
      .then(function (r) {
        if (!r.ok) { location.assign("/kiosk/"); return null; }
        return stripe.confirmCardPayment(box.dataset.secret, { payment_method: { card: card } });
      })
      .then(function (result) {
        if (result === null) { return; }
        finish(result && result.error
          ? String(result.error.message || result.error.code || "error") : "");
      })
      .catch(function (e) {
        finish(String(e || "error"));
      });
  });
})();
