// Protocol filter: show only the entries of one protocol (text and native are never ranked together)
// in the table, and only that protocol's dot plot. Status filter: verified or self-reported rows only.
(function () {
  "use strict";
  const select = document.getElementById("protocol-filter");
  const status = document.getElementById("status-filter");
  const count = document.getElementById("shown-count");
  function apply() {
    const wanted = select.value;
    const show = function (el) { return wanted === "all" || el.dataset.protocol === wanted; };
    let rows = 0;
    const shownStatus = status ? status.value : "all";
    document.querySelectorAll("#leaderboard tbody tr").forEach(function (tr) {
      tr.hidden = !show(tr) || (shownStatus !== "all" && tr.dataset.status !== shownStatus);
      if (!tr.hidden) rows += 1;
    });
    document.querySelectorAll("figure.plot").forEach(function (figure) {
      figure.hidden = !show(figure);
    });
    if (count) count.textContent = rows + (rows === 1 ? " entry" : " entries");
  }
  if (select) {
    select.addEventListener("change", apply);
    if (status) status.addEventListener("change", apply);
    apply();
  }
})();
