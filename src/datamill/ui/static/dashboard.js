// Edit a dashboard's YAML, save it (a new version), restore an old version.
(function () {
  "use strict";
  var dm = window.datamill, text = document.getElementById("dashboard-yaml"), name = text.getAttribute("data-name");
  var errorBox = document.getElementById("dashboard-error"), saved = document.getElementById("dashboard-saved");
  function failed(err) { errorBox.hidden = false; errorBox.textContent = (err.data && err.data.error) || err.message; }
  function done(r) {
    errorBox.hidden = true;
    saved.setAttribute("data-version", r.version);
    saved.innerHTML = "";
    saved.appendChild(document.createTextNode("saved as version " + r.version + " · "));
    var a = document.createElement("a"); a.href = r.view; a.textContent = "view it"; a.id = "dashboard-view"; saved.appendChild(a);
  }
  document.getElementById("dashboard-save").addEventListener("click", function () {
    dm.api("POST", "/api/dashboards/" + encodeURIComponent(name),
           { yaml: text.value, note: document.getElementById("dashboard-note").value }).then(done).catch(failed);
  });
  var restore = document.getElementById("dashboard-restore");
  if (restore) {
    restore.addEventListener("click", function () {
      dm.api("POST", "/api/dashboards/" + encodeURIComponent(name) + "/restore",
             { version: Number(document.getElementById("restore-version").value) })
        .then(function (r) { done(r); setTimeout(function () { window.location.reload(); }, 400); }).catch(failed);
    });
  }
})();
