// factsite check pages: the "Copy link" button next to the permalink. Without this
// script the button stays hidden and the read-only field can be copied by hand.
(function () {
  "use strict";
  var buttons = document.querySelectorAll("button[data-copy]");
  Array.prototype.forEach.call(buttons, function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    var status = button.closest(".permalink").querySelector(".copy-status");
    if (!field) return;
    function done(ok) {
      status.textContent = ok ? "Link copied." : "Press Ctrl+C (⌘C on a Mac) to copy the selected link.";
    }
    button.addEventListener("click", function () {
      field.focus();
      field.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(function () { done(true); }, function () { done(false); });
      } else {
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
        done(ok);
      }
    });
    button.hidden = false;
  });
})();
