/* Allot's public pages work without this file; it only smooths two things when JavaScript runs.
   Loaded with `defer` from templates/public/base.html (no inline script: the pages' CSP forbids it). */
(function () {
  "use strict";

  // After a refused submit, take keyboard and screen-reader users to the list of problems.
  var summary = document.querySelector(".error-summary[tabindex='-1']");
  if (summary && !document.querySelector("[autofocus]")) {
    summary.focus();
  }

  // A start chosen after the end (or with no end yet) moves the end along, keeping the length asked for.
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function local(date) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      "T" + pad(date.getHours()) + ":" + pad(date.getMinutes());
  }
  document.querySelectorAll("input[type='datetime-local'][name$='-start']").forEach(function (start) {
    var end = document.getElementById(start.id.replace(/start$/, "end"));
    if (!end) { return; }
    var previous = start.value;
    start.addEventListener("change", function () {
      var from = new Date(start.value);
      if (isNaN(from)) { previous = start.value; return; }
      var oldStart = new Date(previous);
      var oldEnd = new Date(end.value);
      var length = (!isNaN(oldStart) && !isNaN(oldEnd) && oldEnd > oldStart) ? oldEnd - oldStart : 3600000;
      if (!end.value || isNaN(oldEnd) || oldEnd <= from || !isNaN(oldStart)) {
        end.value = local(new Date(from.getTime() + length));
      }
      previous = start.value;
    });
  });
})();
