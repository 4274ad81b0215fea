// The SQL console: run a query through /api/sql, page the grid, show errors with their position, build a chart.
(function () {
  "use strict";
  var dm = window.datamill;
  var text = document.getElementById("sql-text"), status = document.getElementById("sql-status");
  var errorBox = document.getElementById("sql-error"), grid = document.getElementById("sql-grid");
  var pager = document.querySelector("#sql-result .pager");
  var pageRows = Number(document.getElementById("sql-result").getAttribute("data-page-rows"));
  var state = { sql: "", offset: 0, columns: [], total: null, asked: 0 };

  function showError(box, err, sql) {
    box.hidden = false;
    box.innerHTML = "";
    var data = err.data || {};
    var head = document.createElement("div");
    head.textContent = (data.kind === "QueryRefused" ? "refused: " : "") + (data.error || err.message);
    if (data.kind === "QueryRefused") { box.classList.add("refused"); } else { box.classList.remove("refused"); }
    box.setAttribute("data-kind", data.kind || "error");
    box.appendChild(head);
    if (data.line && data.column && sql) {  // the line of the query, a caret under the column
      var line = sql.split("\n")[data.line - 1] || "";
      var pre = document.createElement("pre");
      pre.className = "sql-position";
      pre.textContent = line + "\n" + " ".repeat(Math.max(data.column - 1, 0)) + "^ line " + data.line + ", column " + data.column;
      box.appendChild(pre);
    }
  }

  function fill(result) {
    var thead = grid.querySelector("thead"), tbody = grid.querySelector("tbody");
    thead.innerHTML = ""; tbody.innerHTML = "";
    var tr = document.createElement("tr");
    result.columns.forEach(function (c, i) {
      var th = document.createElement("th"); th.textContent = c; th.title = result.types[i]; tr.appendChild(th);
    });
    thead.appendChild(tr);
    result.rows.forEach(function (row) {
      var r = document.createElement("tr");
      row.forEach(function (v) {
        var td = document.createElement("td");
        td.textContent = v === null ? "–" : String(v);
        if (typeof v === "number") { td.className = "num"; }
        r.appendChild(td);
      });
      tbody.appendChild(r);
    });
    pager.hidden = false;
    var last = result.offset + result.rows.length;
    document.getElementById("sql-range").textContent = result.rows.length ?
      "rows " + (result.offset + 1).toLocaleString() + "–" + last.toLocaleString() +
      (result.total !== null ? " of " + result.total.toLocaleString() : (result.has_more ? " of more" : "")) : "no rows";
    document.getElementById("sql-prev").disabled = result.offset === 0;
    document.getElementById("sql-next").disabled = !result.has_more;
    status.textContent = result.elapsed_ms + " ms";
    grid.setAttribute("data-offset", result.offset);
    grid.setAttribute("data-rows", result.rows.length);
  }

  function columns(names) {
    state.columns = names;
    document.querySelectorAll(".chart-column").forEach(function (sel, i) {
      var keep = sel.value, optional = sel.id !== "chart-x";
      sel.innerHTML = optional ? '<option value="">–</option>' : "";
      names.forEach(function (n) { var o = document.createElement("option"); o.textContent = n; sel.appendChild(o); });
      if (names.indexOf(keep) >= 0) { sel.value = keep; }
      else if (sel.id === "chart-x" && names.length) { sel.value = names[0]; }
      else if (sel.id === "chart-y" && names.length > 1) { sel.value = names[1]; }
    });
    document.getElementById("chart-draw").disabled = !names.length;
  }

  function run(offset) {
    var sql = offset === undefined ? text.value : state.sql;
    offset = offset || 0;
    status.textContent = "running…";
    errorBox.hidden = true;
    var ask = ++state.asked;  // only the latest request's answer is shown
    return dm.api("POST", "/api/sql", { sql: sql, offset: offset, limit: pageRows }).then(function (result) {
      if (ask !== state.asked) { return; }
      state.sql = sql; state.offset = offset;
      fill(result);
      columns(result.columns);
      if (offset === 0) { remember(sql, "ok"); }
    }).catch(function (err) {
      if (ask !== state.asked) { return; }
      status.textContent = "";
      showError(errorBox, err, sql);
      if (offset === 0) { remember(sql, (err.data && err.data.kind) || "error"); }
    });
  }

  function remember(sql, outcome) {
    var list = document.getElementById("sql-history");
    list.querySelectorAll("li").forEach(function (li) { if (li.getAttribute("data-sql") === sql) { li.remove(); } });
    var li = document.createElement("li");
    li.setAttribute("data-sql", sql); li.className = "outcome-" + outcome; li.textContent = sql;
    list.insertBefore(li, list.firstChild);
  }

  document.getElementById("sql-run").addEventListener("click", function () { run(); });
  text.addEventListener("keydown", function (e) { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); } });
  document.getElementById("sql-next").addEventListener("click", function () { run(state.offset + pageRows); });
  document.getElementById("sql-prev").addEventListener("click", function () { run(Math.max(state.offset - pageRows, 0)); });
  document.getElementById("sql-count").addEventListener("click", function () {
    dm.api("POST", "/api/sql/count", { sql: state.sql }).then(function (r) {
      document.getElementById("sql-range").textContent += " (" + r.total.toLocaleString() + " rows in all)";
    }).catch(function (err) { showError(errorBox, err, state.sql); });
  });
  document.querySelector(".sql-side").addEventListener("click", function (e) {
    var el = e.target.closest("[data-sql]");
    if (!el) { return; }
    e.preventDefault();
    text.value = el.getAttribute("data-sql");
    run();
  });
  document.getElementById("chart-draw").addEventListener("click", function () {
    var box = document.getElementById("chart-error"), el = document.getElementById("sql-chart");
    box.hidden = true;
    var body = { sql: state.sql };
    ["kind", "x", "y", "color", "facet", "aggregate"].forEach(function (k) { body[k] = document.getElementById("chart-" + k).value || null; });
    dm.api("POST", "/api/sql/chart", body).then(function (r) { return dm.embed(el, r.spec); })
      .catch(function (err) { showError(box, err, state.sql); });
  });
  if (text.value.trim()) { run(); }
})();
