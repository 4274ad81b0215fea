// datamill ui: long actions with a progress bar, and charts drawn after the page loaded (the SQL console's).
(function () {
  "use strict";
  var theme = JSON.parse(document.getElementById("dm-theme").textContent);

  function api(method, url, body) {
    var init = { method: method, headers: { "accept": "application/json" }, credentials: "same-origin" };
    if (body !== undefined) { init.headers["content-type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(url, init).then(function (r) {
      return r.text().then(function (text) {
        var data; try { data = JSON.parse(text); } catch (e) { data = { error: text }; }
        if (!r.ok) { var err = new Error(data.error || data.detail || ("HTTP " + r.status)); err.data = data; err.status = r.status; throw err; }
        return data;
      });
    });
  }

  // Draw a Vega-Lite spec into `el`; resolves once drawn (the element gets data-drawn=1).
  function embed(el, spec) {
    el.classList.remove("chart-error");
    el.removeAttribute("data-drawn");
    return vegaEmbed(el, spec, { actions: false, renderer: "svg", config: theme })
      .then(function () { el.setAttribute("data-drawn", "1"); })
      .catch(function (err) {
        el.classList.add("chart-error");
        el.textContent = "This chart could not be drawn: " + err;
        console.error("datamill ui: chart: " + err);
      });
  }

  // A task: POST starts it, then /api/tasks/ID is polled until it ends.
  function watch(box, id) {
    var bar = box.querySelector("progress"), msg = box.querySelector(".task-message");
    box.hidden = false;
    box.classList.remove("failed", "ok");
    box.setAttribute("data-status", "running");
    function tick() {
      api("GET", "/api/tasks/" + id).then(function (t) {
        if (t.done === null || t.done === undefined) { bar.removeAttribute("value"); } else { bar.value = t.done; }
        msg.textContent = t.message || "";
        if (t.status === "running") { setTimeout(tick, 400); return; }
        box.setAttribute("data-status", t.status);
        box.classList.add(t.status);
        if (t.status === "ok") {
          bar.value = 1;
          if (t.link) {
            var a = document.createElement("a"); a.href = t.link; a.textContent = " open the result"; a.className = "task-link";
            msg.appendChild(a);
          }
          if (box.hasAttribute("data-reload")) { setTimeout(function () { window.location.reload(); }, 600); }
        }
      }).catch(function (err) { msg.textContent = String(err.message || err); box.classList.add("failed"); });
    }
    tick();
  }

  document.querySelectorAll("button[data-task]").forEach(function (button) {
    button.addEventListener("click", function () {
      var box = document.getElementById(button.getAttribute("data-progress"));
      var body = JSON.parse(button.getAttribute("data-body") || "{}");
      document.querySelectorAll("[data-task-field]").forEach(function (f) {
        if (f.getAttribute("data-for") === button.id && f.value) { body[f.getAttribute("data-task-field")] = f.value; }
      });
      button.disabled = true;
      api("POST", button.getAttribute("data-task"), body)
        .then(function (t) { watch(box, t.id); })
        .catch(function (err) {
          box.hidden = false; box.classList.add("failed");
          box.querySelector(".task-message").textContent = String(err.message || err);
        })
        .finally(function () { button.disabled = false; });
    });
  });

  // Live numbers (serving, streams): elements with data-poll get their JSON's fields every few seconds.
  document.querySelectorAll("[data-poll]").forEach(function (root) {
    function refresh() {
      api("GET", root.getAttribute("data-poll")).then(function (data) {
        root.querySelectorAll("[data-field]").forEach(function (el) {
          var path = el.getAttribute("data-field").split("."), v = data;
          path.forEach(function (k) { v = (v === null || v === undefined) ? v : v[k]; });
          el.textContent = (v === null || v === undefined) ? "–" : v;
        });
      }).catch(function () { /* the next poll may work */ });
    }
    setInterval(refresh, Number(root.getAttribute("data-every") || 3000));
    refresh();
  });

  window.datamill = { api: api, embed: embed, watch: watch };
})();
