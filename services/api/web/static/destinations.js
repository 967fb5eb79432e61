/* Gurulu Audiences: the connect-a-destination form.
 *
 * Without script the form shows every type's fieldset and the server reads only the chosen
 * type's fields. With it, only the chosen type's fieldset is shown; the others are hidden
 * and disabled (so they are neither validated nor sent), and the shown one's required
 * fields become required.
 */
(function () {
  "use strict";

  function show(form) {
    var chosen = form.querySelector("[data-connect-type]").value;
    form.querySelectorAll("fieldset[data-kind]").forEach(function (fieldset) {
      var off = fieldset.getAttribute("data-kind") !== chosen;
      fieldset.hidden = off;
      fieldset.disabled = off;
      fieldset.querySelectorAll("[data-required]").forEach(function (input) {
        input.required = !off;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-connect-form]").forEach(function (form) {
      var select = form.querySelector("[data-connect-type]");
      if (!select) return;
      select.addEventListener("change", function () { show(form); });
      show(form);
    });
  });
})();
