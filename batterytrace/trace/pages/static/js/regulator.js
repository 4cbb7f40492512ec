// Regulator dashboard, part 4: after sign-in, read the reports and draw the page. Only regulators
// may read them; anyone else is told so plainly instead of being shown empty charts.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const charts = [];
  const root = $("regulator");
  let data = null;
  let namer = (code) => code;
  let cols = null;

  function chart(id, option) {
    const el = $(id);
    const instance = echarts.getInstanceByDom(el) || echarts.init(el, null, { renderer: "canvas" });
    if (!charts.includes(instance)) charts.push(instance);
    instance.setOption(option, { notMerge: true });
    return instance;
  }

  function denied(detail) {
    BT.show($("rg-content"), false);
    BT.show($("rg-denied"), true);
    BT.show($("rg-status"), false);
    $("rg-denied-detail").textContent = detail || "";
    root.dataset.state = "denied";
  }

  function drawTotals() {
    const totals = RG.totals(data);
    $("rg-totals").innerHTML = RG.TOTALS.map((key) => {
      const value = key === "recycling_rate" ? RG.percent(totals[key]) : RG.number(totals[key]);
      return `<div class="rg-total" data-total="${key}" data-value="${totals[key] ?? ""}">` +
        `<span class="rg-total-label" data-i18n="regulator.total.${key}">${BT.escapeHtml(BT.t(`regulator.total.${key}`))}</span>` +
        `<strong>${value}</strong></div>`;
    }).join("");
    return totals;
  }

  function drawTiles() {
    chart("rg-regions-chart", RG.tilesOption(data.regions, namer, $("rg-regions-chart").clientWidth));
  }

  function drawNetwork() {
    const province = $("rg-network-province").value;
    const rows = province ? data.network.filter((p) => p.province_code === province) : data.network;
    RG.fillTable($("rg-network-table"), cols.network, rows);
    return rows;
  }

  function drawMonthly() {
    const manufacturer = $("rg-manufacturer").value;
    chart("rg-monthly-chart", RG.monthlyOption(RG.monthlySeries(data.monthly, manufacturer)));
    const rows = manufacturer ? data.monthly.filter((r) => r.manufacturer_id === manufacturer) : data.monthly;
    RG.fillTable($("rg-monthly-table"), cols.monthly, [...rows].reverse());
    return rows;
  }

  function drawFlows() {
    const graph = RG.sankey(data, $("rg-flows-group").value, namer);
    const left = new Set(graph.links.map((l) => l.source));
    const el = $("rg-flows-chart");
    el.style.height = `${Math.max(420, Math.min(1600, left.size * 22))}px`;
    const instance = chart("rg-flows-chart", RG.sankeyOption(graph));
    instance.resize();
    const note = $("rg-flows-dropped");
    note.textContent = BT.t("regulator.flows.dropped", { count: graph.dropped.length });
    BT.show(note, graph.dropped.length > 0);
    RG.fillTable($("rg-flows-table"), cols.flows, data.flows);
  }

  function drawCompliance() {
    const kind = $("rg-compliance-kind").value;
    const rows = kind ? data.compliance.filter((r) => r.kind === kind) : data.compliance;
    RG.fillTable($("rg-compliance-table"), cols.compliance, rows);
    return rows;
  }

  /** The CSV behind each table: the API's own export with the table's filters; the totals,
   * which no report holds as rows, are written here. Both in the page's language (header words,
   * metric names); the values stay as the API gives them. */
  const downloads = {
    totals: async () => {
      const totals = RG.totals(data);
      const rows = RG.TOTALS.map((key) => ({ metric: BT.t(`regulator.total.${key}`), value: totals[key] ?? "" }));
      BT.downloadCsv("national-totals.csv", ["metric", "value"], rows, [BT.t("regulator.csv.metric"), BT.t("regulator.csv.value")]);
    },
    regions: () => csv("regions", {}, data.regions.length),
    network: () => {
      const province = $("rg-network-province").value;
      return csv("network", { region: province.slice(0, 2) }, drawNetwork().length, province ? `network-${province.slice(0, 2)}` : "network");
    },
    monthly: () => {
      const manufacturer = $("rg-manufacturer").value;
      const rows = manufacturer ? data.monthly.filter((r) => r.manufacturer_id === manufacturer) : data.monthly;
      return csv("monthly", { manufacturer }, rows.length, manufacturer ? `monthly-${manufacturer}` : "monthly");
    },
    flows: () => csv("flows", {}, data.flows.length),
    swaps: () => csv("swaps", {}, data.swaps.length),
    overdue: () => csv("overdue", {}, data.overdue.length),
    compliance: () => {
      const kind = $("rg-compliance-kind").value;
      return csv("compliance", { kind }, drawCompliance().length, kind ? `compliance-${kind}` : "compliance");
    },
  };

  async function csv(report, query, rows, filename = report) {
    const text = await RG.fetchCsv(`/api/v1/reports/${report}`, query, rows);
    RG.saveText(`${filename}.csv`, text);
  }

  function fillSelectors() {
    const provinces = $("rg-network-province");
    for (const region of data.regions) provinces.add(new Option(namer(region.region_code), region.region_code));
    const makers = $("rg-manufacturer");
    for (const [id, name] of RG.manufacturers(data.monthly)) makers.add(new Option(name, id));
  }

  function wire() {
    $("rg-network-province").addEventListener("change", drawNetwork);
    $("rg-manufacturer").addEventListener("change", drawMonthly);
    $("rg-flows-group").addEventListener("change", drawFlows);
    $("rg-compliance-kind").addEventListener("change", drawCompliance);
    echarts.getInstanceByDom($("rg-regions-chart")).on("click", (item) => {
      $("rg-network-province").value = item.data.code;
      drawNetwork();
      $("rg-network-card").scrollIntoView({ behavior: "smooth" });
    });
    document.querySelectorAll(".rg-csv").forEach((button) => button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await downloads[button.dataset.csv]();
      } catch (refused) {
        showError(refused);
      } finally {
        button.disabled = false;
      }
    }));
    root.addEventListener("click", (event) => {
      const target = event.target.closest(".rg-code");
      if (target) RG.showBattery(target.dataset.code, data.names);
    });
    $("rg-battery-close").addEventListener("click", () => $("rg-battery").close());
    let pending = 0;
    window.addEventListener("resize", () => {
      clearTimeout(pending);
      pending = setTimeout(() => {
        charts.forEach((c) => c.resize());
        drawTiles(); // the labels are cut to the tiles' new width
      }, 150);
    });
  }

  function showError(refused) {
    if (refused.status === 403) return denied(refused.message);
    const error = $("rg-error");
    error.textContent = BT.t("regulator.failed", { reason: refused.message });
    BT.show(error, true);
    return undefined;
  }

  async function start(participant) {
    if (!(participant.roles || []).includes("regulator")) return denied();
    try {
      data = await RG.load();
    } catch (refused) {
      root.dataset.state = "error";
      BT.show($("rg-status"), false);
      return showError(refused);
    }
    namer = RG.provinceNamer(data.regions);
    cols = RG.columns(data, namer);
    BT.show($("rg-content"), true);
    fillSelectors();
    drawTotals();
    drawTiles();
    RG.fillTable($("rg-regions-table"), cols.regions, data.regions);
    drawNetwork();
    drawMonthly();
    drawFlows();
    RG.fillTable($("rg-swaps-table"), cols.swaps, [...data.swaps].reverse());
    RG.fillTable($("rg-overdue-table"), cols.overdue, data.overdue);
    drawCompliance();
    wire();
    $("rg-status").textContent = BT.t("regulator.loaded", {
      points: RG.number(data.network.length),
      findings: RG.number(data.compliance.length),
    });
    root.dataset.state = "ready";
    return undefined;
  }

  BT.ready.then(start);
})();
