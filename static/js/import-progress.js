// Polls an import job's status and reloads the page when it finishes.
(function () {
  "use strict";
  var box = document.getElementById("job-progress");
  if (!box || box.dataset.finished === "true") { return; }
  var url = box.dataset.statusUrl;
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (job) {
        document.getElementById("job-status").textContent = job.status_display;
        var bar = document.getElementById("job-bar");
        if (bar) { bar.value = job.percent; bar.textContent = job.percent + "%"; }
        var rows = document.getElementById("job-rows");
        if (rows) { rows.textContent = job.rows + " rows checked so far."; }
        if (job.finished) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
