// The regional managers' dashboard: every region's KPIs against their
// targets for a period, one trend chart per KPI (network and the selected
// region), a region's stations ranked in a sortable table and on a map,
// the complaints still waiting for a call back, and CSV exports.
// Everything from the API is inserted as text (Staff.el), never as HTML.
"use strict";

(() => {
  const el = Staff.el;
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);

  // --- the KPIs -------------------------------------------------------------

  // kind: how a value reads (count, rate 0–1, hours, score 1–5); better:
  // which way the target points, for "目标 ≥ 95%" (the API's status is the
  // judgement; this only words the target).
  const KPIS = [
    { key: "jobs_opened", name: "新建工单", short: "新建", kind: "count", group: "volume", head: true },
    { key: "jobs_closed", name: "关闭工单", short: "关闭", kind: "count", group: "volume" },
    { key: "jobs_cancelled", name: "取消工单", short: "取消", kind: "count", group: "volume" },
    { key: "on_time_repair_rate", name: "按时修复率", short: "按时修复", kind: "rate", group: "time", better: "higher", head: true },
    { key: "first_visit_on_time_rate", name: "首次上门准时率", short: "上门准时", kind: "rate", group: "time", better: "higher", head: true },
    { key: "first_visit_median_h", name: "首次上门中位时长", short: "上门中位", kind: "hours", group: "time", better: "lower" },
    { key: "first_visit_p90_h", name: "首次上门P90时长", short: "上门P90", kind: "hours", group: "time", better: "lower" },
    { key: "sla_breaches", name: "SLA超时", short: "SLA超时", kind: "count", group: "time", head: true },
    { key: "sla_warnings", name: "SLA预警", short: "SLA预警", kind: "count", group: "time" },
    { key: "late_notice_before_due_rate", name: "超期前告知率", short: "超期前告知", kind: "rate", group: "time", better: "higher" },
    { key: "follow_up_within_3d_rate", name: "3日内回访率", short: "3日回访", kind: "rate", group: "customer", better: "higher" },
    { key: "satisfaction_mean", name: "平均满意度", short: "满意度", kind: "score", group: "customer", better: "higher", head: true },
    { key: "satisfaction_count", name: "评价数", short: "评价数", kind: "count", group: "customer" },
    { key: "complaints", name: "投诉", short: "投诉", kind: "count", group: "customer", head: true },
    { key: "complaints_recontacted", name: "已回访投诉", short: "已回访", kind: "count", group: "customer" },
    { key: "pickup_backlog", name: "待取件积压", short: "待取件", kind: "count", group: "ops" },
    { key: "mailed_back", name: "寄回", short: "寄回", kind: "count", group: "ops" },
    { key: "first_time_fix_rate", name: "一次修复率", short: "一次修复", kind: "rate", group: "ops", better: "higher" },
    { key: "utilisation", name: "技师利用率", short: "利用率", kind: "rate", group: "ops", better: "higher" },
  ];
  const KPI = Object.fromEntries(KPIS.map((k) => [k.key, k]));
  const GROUPS = [
    ["volume", "工单量"], ["time", "时效"], ["customer", "客户"], ["ops", "网点运营"],
  ];
  const STATUS = {
    met: { mark: "✓", word: "达标" },
    at_risk: { mark: "!", word: "预警" },
    missed: { mark: "✗", word: "未达标" },
  };
  const WORST = { missed: 3, at_risk: 2, met: 1 };
  const REGION_ORDER = ["north", "northeast", "east", "central", "south", "southwest", "northwest"];
  const REGION_NAMES = {
    north: "华北", northeast: "东北", east: "华东", central: "华中",
    south: "华南", southwest: "西南", northwest: "西北",
  };
  const GRAN = { day: "按日", week: "按周", month: "按月" };
  // Daily points over months make a chart nobody can read and a large answer.
  const MAX_DAILY_DAYS = 31;

  // --- state ----------------------------------------------------------------

  const S = {
    me: null,
    regions: new Map(Object.entries(REGION_NAMES)),
    from: null, to: null, preset: "last7", gran: "day",
    region: null,             // the selected region's code
    summary: null,            // the report for the period (granularity none)
    trend: null,              // the report per period
    gen: 0,
    abort: null,
    sort: { key: "rank", dir: "ascending" },
    // Idle stations miss the utilisation target, so the worst of all
    // KPIs paints most of a quiet region red: on-time repair reads better.
    mapKpi: "on_time_repair_rate",
    geo: new Map(),           // region code -> GeoJSON features
    charts: [],               // {u, fig, plot}
    complaintsGen: 0,
  };

  // --- dates (Asia/Shanghai calendar days as YYYY-MM-DD) ----------------------

  const shanghaiDay = new Intl.DateTimeFormat("en-CA", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
  });
  const today = () => shanghaiDay.format(new Date());
  function addDays(ymd, n) {
    const d = new Date(ymd + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }
  function daysBetween(a, b) {
    return Math.round((Date.parse(b + "T00:00:00Z") - Date.parse(a + "T00:00:00Z")) / 86400000);
  }
  const isYmd = (s) => /^\d{4}-\d{2}-\d{2}$/.test(s || "") && !Number.isNaN(Date.parse(s));

  function presetRange(p) {
    const t = today();
    const dow = (new Date(t + "T00:00:00Z").getUTCDay() + 6) % 7; // Monday 0
    const monthStart = t.slice(0, 8) + "01";
    switch (p) {
      case "last_week": {
        const monday = addDays(t, -dow - 7);
        return [monday, addDays(monday, 6)];
      }
      case "this_month": return [monthStart, t];
      case "last_month": {
        const end = addDays(monthStart, -1);
        return [end.slice(0, 8) + "01", end];
      }
      case "last90": return [addDays(t, -89), t];
      default: return [addDays(t, -6), t];
    }
  }
  function presetOf(from, to) {
    for (const p of ["last7", "last_week", "this_month", "last_month", "last90"]) {
      const [a, b] = presetRange(p);
      if (a === from && b === to) return p;
    }
    return null;
  }
  /** `11月24日` or, across years, `2025年12月29日`. */
  function ymdText(ymd, withYear) {
    const [y, m, d] = ymd.split("-").map(Number);
    return (withYear ? y + "年" : "") + m + "月" + d + "日";
  }
  function periodText(from, to) {
    const years = from.slice(0, 4) !== to.slice(0, 4) || from.slice(0, 4) !== today().slice(0, 4);
    const n = daysBetween(from, to) + 1;
    return ymdText(from, years) + " – " + ymdText(to, years) + "（" + n + " 天）";
  }
  /** A period label from the API (`2026-11-30`, `2026-W48`, `2026-11`) on an axis. */
  function shortLabel(label) {
    if (!label) return "";
    let m = label.match(/^(\d{4})-(\d{2})-(\d{2})$/);
    if (m) return Number(m[2]) + "/" + Number(m[3]);
    m = label.match(/^(\d{4})-W(\d{2})$/);
    if (m) return "第" + Number(m[2]) + "周";
    m = label.match(/^(\d{4})-(\d{2})$/);
    if (m) return Number(m[2]) + "月";
    return label;
  }
  function longLabel(label) {
    if (!label) return "";
    let m = label.match(/^(\d{4})-(\d{2})-(\d{2})$/);
    if (m) return Staff.day(label);
    m = label.match(/^(\d{4})-W(\d{2})$/);
    if (m) return m[1] + "年第" + Number(m[2]) + "周";
    m = label.match(/^(\d{4})-(\d{2})$/);
    if (m) return m[1] + "年" + Number(m[2]) + "月";
    return label;
  }

  // --- numbers ----------------------------------------------------------------

  const int = new Intl.NumberFormat("zh-CN", { maximumFractionDigits: 0 });
  function pct(v) { return (Math.round(v * 1000) / 10) + "%"; }
  /** A KPI value as shown (without its unit for hours, which the label has). */
  function fmt(key, v) {
    if (v == null || Number.isNaN(v)) return "—";
    switch ((KPI[key] || {}).kind) {
      case "rate": return pct(v);
      case "hours": return v.toFixed(1);
      case "score": return v.toFixed(2);
      default: return int.format(v);
    }
  }
  function unit(key) {
    const k = KPI[key] || {};
    return k.kind === "hours" ? "小时" : k.kind === "score" ? "分" : "";
  }
  function targetText(key, t) {
    if (t == null) return "";
    const k = KPI[key] || {};
    const sign = k.better === "higher" ? "≥" : k.better === "lower" ? "≤" : "";
    const u = unit(key);
    return "目标 " + sign + fmt(key, t) + (u ? " " + u : "");
  }
  const kpiName = (key) => (KPI[key] ? KPI[key].name : key);
  const regionName = (code) => (code ? S.regions.get(code) || code : "全网");

  /** The worst status of a row's KPIs, or null when none has a target. */
  function worst(row) {
    let w = null;
    for (const c of Object.values(row.kpis || {})) {
      if (c && c.status && (!w || WORST[c.status] > WORST[w])) w = c.status;
    }
    return w;
  }
  function statusOf(row, key) {
    if (!row) return null;
    if (key === "worst") return worst(row);
    const c = row.kpis && row.kpis[key];
    return (c && c.status) || null;
  }

  /** ✓ 达标 / ! 预警 / ✗ 未达标: never colour alone. `short` keeps the word
   *  for screen readers only (table cells). */
  function badge(status, short) {
    if (!status || !STATUS[status]) return null;
    const s = STATUS[status];
    return el("span", { class: "badge " + status, title: s.word },
      el("span", { "aria-hidden": "true" }, s.mark),
      short ? el("span", { class: "visually-hidden" }, s.word) : " " + s.word);
  }

  // --- the page's state in its address (never the token) ----------------------

  function readUrl() {
    const p = new URLSearchParams(location.search);
    const from = p.get("from"), to = p.get("to");
    if (isYmd(from) && isYmd(to) && from <= to) {
      S.from = from; S.to = to; S.preset = presetOf(from, to);
    } else {
      [S.from, S.to] = presetRange("last7");
      S.preset = "last7";
    }
    if (GRAN[p.get("g")]) S.gran = p.get("g");
    else S.gran = defaultGran(S.from, S.to);
    const r = p.get("region");
    S.region = r && REGION_NAMES[r] ? r : null;
  }
  function writeUrl() {
    const p = new URLSearchParams(location.search);
    p.set("from", S.from); p.set("to", S.to); p.set("g", S.gran);
    if (S.region) p.set("region", S.region); else p.delete("region");
    history.replaceState(null, "", location.pathname + "?" + p.toString());
  }
  function defaultGran(from, to) {
    const n = daysBetween(from, to) + 1;
    return n > MAX_DAILY_DAYS ? "week" : "day";
  }

  // --- controls -----------------------------------------------------------------

  const els = {
    regions: $("regions"), status: $("status"), error: $("error"), periodText: $("period-text"),
    from: $("from"), to: $("to"), gran: $("granularity"), presets: $("presets"),
    drill: $("drill"), drillTitle: $("drill-title"), stations: $("stations"),
    stationNote: $("station-note"), mapKpi: $("map-kpi"), map: $("map"),
    trends: $("trends"), trendLegend: $("trend-legend"),
    complaints: $("complaints"), complaintsNote: $("complaints-note"), scope: $("scope"),
  };

  function showControls() {
    els.from.value = S.from;
    els.to.value = S.to;
    els.from.max = els.to.max = today();
    els.gran.value = S.gran;
    const daily = els.gran.querySelector('option[value="day"]');
    const long = daysBetween(S.from, S.to) + 1 > MAX_DAILY_DAYS;
    daily.disabled = long;
    daily.textContent = long ? "按日（不超过" + MAX_DAILY_DAYS + "天）" : "按日";
    for (const b of els.presets.querySelectorAll("button")) {
      b.setAttribute("aria-pressed", String(b.dataset.preset === S.preset));
    }
    els.periodText.textContent = periodText(S.from, S.to) + " · 趋势" + GRAN[S.gran];
  }

  function setPeriod(from, to, preset) {
    S.from = from; S.to = to; S.preset = preset;
    if (S.gran === "day" && daysBetween(from, to) + 1 > MAX_DAILY_DAYS) S.gran = "week";
    if (preset) S.gran = defaultGran(from, to);
    load();
  }

  els.presets.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-preset]");
    if (!b) return;
    const [from, to] = presetRange(b.dataset.preset);
    setPeriod(from, to, b.dataset.preset);
  });
  $("controls").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const from = els.from.value, to = els.to.value;
    if (!isYmd(from) || !isYmd(to)) { showError("请选择开始和结束日期。"); return; }
    if (from > to) { showError("开始日期不能晚于结束日期。"); return; }
    if (daysBetween(from, to) + 1 > 400) { showError("统计期最长 400 天。"); return; }
    setPeriod(from, to, presetOf(from, to));
  });
  els.gran.addEventListener("change", () => {
    S.gran = els.gran.value;
    writeUrl();
    showControls();
    loadTrend(S.gen);
  });
  $("csv").addEventListener("click", (ev) => csv(ev.currentTarget, null));
  $("drill-csv").addEventListener("click", (ev) => csv(ev.currentTarget, S.region));
  $("drill-close").addEventListener("click", () => {
    const code = S.region;
    select(null);
    const b = els.regions.querySelector(`[data-region="${code}"] .region-btn`);
    if (b) b.focus();
  });
  $("complaints-reload").addEventListener("click", () => loadComplaints());
  els.mapKpi.addEventListener("change", () => { S.mapKpi = els.mapKpi.value; drawMap(); });

  function showError(msg) {
    els.error.textContent = msg;
    els.error.hidden = !msg;
  }

  // --- loading ----------------------------------------------------------------------

  function kpiPath(extra) {
    const p = new URLSearchParams({ from: S.from, to: S.to, ...extra });
    return `${API}/kpi?${p}`;
  }

  async function load() {
    const gen = ++S.gen;
    if (S.abort) S.abort.abort();
    S.abort = new AbortController();
    writeUrl();
    showControls();
    showError("");
    els.status.textContent = "正在计算 " + periodText(S.from, S.to) + " 的指标…";
    els.regions.setAttribute("aria-busy", "true");
    document.body.dataset.ready = "false";
    try {
      const summary = await Staff.api("GET", kpiPath({ granularity: "none" }), undefined,
        { signal: S.abort.signal });
      if (gen !== S.gen) return;
      S.summary = summary;
      // A region-scoped token sees one region: it is the one to drill into.
      const regionRows = summary.rows.filter((r) => r.scope === "region");
      if (regionRows.length === 1) S.region = regionRows[0].region;
      if (S.region && !regionRows.some((r) => r.region === S.region)) S.region = null;
      renderRegions();
      renderDrill();
      els.status.textContent = "";
      els.regions.setAttribute("aria-busy", "false");
      document.body.dataset.ready = "true";
    } catch (e) {
      if (e.name === "AbortError" || gen !== S.gen) return;
      els.status.textContent = "";
      showError("指标加载失败：" + e.message);
      if (e.status === 401) location.reload();
      return;
    }
    loadTrend(gen);
    loadComplaints();
  }

  async function loadTrend(gen) {
    const g = S.gran;
    els.trends.setAttribute("aria-busy", "true");
    try {
      // Trends need the network and the regions, not 500 stations a period.
      const trend = await Staff.api("GET", kpiPath({ granularity: g, stations: "false" }), undefined,
        { signal: S.abort && S.abort.signal });
      if (gen !== S.gen || g !== S.gran) return;
      S.trend = trend;
      renderTrends();
    } catch (e) {
      if (e.name === "AbortError" || gen !== S.gen) return;
      els.trends.replaceChildren(el("p", { class: "error" }, "趋势加载失败：" + e.message));
    } finally {
      if (gen === S.gen) els.trends.setAttribute("aria-busy", "false");
    }
  }

  async function csv(button, region) {
    const extra = { granularity: "none", format: "csv" };
    if (region) extra.region = region;
    const name = "kpi-" + (region || "all") + "-" + S.from + "-" + S.to + ".csv";
    const old = button.textContent;
    button.disabled = true;
    button.textContent = "正在导出…";
    try {
      await Staff.download(kpiPath(extra), name, "text/csv");
      showError("");
    } catch (e) {
      showError("导出失败：" + e.message);
    } finally {
      button.disabled = false;
      button.textContent = old;
    }
  }

  // --- the regions side by side ------------------------------------------------

  /** One column per region (and the network first when the token sees it),
   *  one grid row per KPI: a desk screen compares across; a phone stacks
   *  the regions, each with its own labels. */
  function renderRegions() {
    const rows = S.summary.rows;
    const network = rows.find((r) => r.scope === "network");
    const byRegion = new Map(rows.filter((r) => r.scope === "region").map((r) => [r.region, r]));
    const codes = REGION_ORDER.filter((c) => byRegion.has(c))
      .concat([...byRegion.keys()].filter((c) => !REGION_ORDER.includes(c)));
    const cols = codes.length + (network ? 1 : 0);
    els.regions.style.setProperty("--cols", String(cols));
    els.regions.style.setProperty("--rows", String(2 + GROUPS.length + KPIS.length));
    // A region's own token: nothing to choose between, the region stays open.
    S.fixed = !network && codes.length === 1;
    els.regions.classList.toggle("single", cols <= 1);
    $("drill-close").hidden = S.fixed;
    $("regions-title").textContent = S.fixed ? regionName(codes[0]) + "指标" : "各区域指标";
    $("regions-hint").hidden = S.fixed || !codes.length;

    const labels = el("div", { class: "kpi-labels", "aria-hidden": "true" },
      el("div", { class: "corner" }, "指标"), el("div", { class: "tally-label" }, "达标情况"));
    for (const [g, gname] of GROUPS) {
      labels.append(el("div", { class: "group" }, gname));
      for (const k of KPIS.filter((k) => k.group === g)) {
        labels.append(el("div", { class: "label" + (k.head ? " head" : "") }, k.name));
      }
    }
    const cards = [labels];
    if (network) cards.push(card(network, null));
    for (const c of codes) cards.push(card(byRegion.get(c), c));
    if (!codes.length && !network) {
      cards.push(el("p", { class: "empty" }, "此令牌的范围内没有区域汇总（例如只限一个网点），请看下方网点明细。"));
    }
    els.regions.replaceChildren(...cards);
  }

  function card(row, code) {
    const name = regionName(code);
    const id = "region-" + (code || "network");
    const tally = { met: 0, at_risk: 0, missed: 0 };
    for (const c of Object.values(row.kpis || {})) if (c && tally[c.status] != null) tally[c.status] += 1;
    const head = code && !S.fixed
      ? el("h3", { id: id + "-name" },
        el("button", {
          type: "button", class: "region-btn", "aria-expanded": String(S.region === code),
          "aria-controls": "drill", onclick: () => select(S.region === code ? null : code, true),
        }, el("span", null, name), el("span", { class: "more", "aria-hidden": "true" }, S.region === code ? "收起 ▴" : "网点 ▸"),
        el("span", { class: "visually-hidden" }, S.region === code ? "（已展开网点明细）" : "：查看网点明细")))
      : el("h3", { id: id + "-name" }, el("span", { class: "network-name" }, name));
    const box = el("section", {
      class: "region-card" + (code ? "" : " network") + (S.region === code && code ? " selected" : ""),
      "aria-labelledby": id + "-name",
      dataset: code ? { testid: "kpi-region", region: code } : { testid: "kpi-network" },
    }, head,
    el("p", { class: "tally" },
      el("span", { class: "t met" }, el("span", { "aria-hidden": "true" }, "✓"), " 达标 " + tally.met),
      el("span", { class: "t at_risk" }, el("span", { "aria-hidden": "true" }, "!"), " 预警 " + tally.at_risk),
      el("span", { class: "t missed" }, el("span", { "aria-hidden": "true" }, "✗"), " 未达标 " + tally.missed)));
    for (const [g, gname] of GROUPS) {
      box.append(el("h4", { class: "group" }, el("span", { class: "desk-hidden" }, gname)));
      for (const k of KPIS.filter((k) => k.group === g)) box.append(cell(row, k));
    }
    box.append(el("button", {
      type: "button", class: "link more-kpis", "aria-expanded": "false",
      onclick: (ev) => {
        const open = !box.classList.contains("expanded");
        box.classList.toggle("expanded", open);
        ev.currentTarget.setAttribute("aria-expanded", String(open));
        ev.currentTarget.textContent = open ? "只看主要指标" : "显示全部 " + KPIS.length + " 项指标";
      },
    }, "显示全部 " + KPIS.length + " 项指标"));
    return box;
  }

  function cell(row, k) {
    const c = (row.kpis && row.kpis[k.key]) || {};
    const status = c.status || "none";
    const u = unit(k.key);
    return el("div", { class: "cell s-" + status + (k.head ? " head" : ""), dataset: { kpi: k.key } },
      el("span", { class: "cell-label" }, k.name),
      el("span", { class: "cell-value" },
        el("span", {
          class: "value", dataset: { testid: "kpi-value", kpi: k.key, value: c.value == null ? "" : String(c.value) },
        }, fmt(k.key, c.value)),
        u && c.value != null ? el("span", { class: "unit" }, u) : null),
      badge(c.status, false),
      c.target != null ? el("span", { class: "target" }, targetText(k.key, c.target)) : null);
  }

  // --- selecting a region ---------------------------------------------------------

  function select(code, focus) {
    S.region = code;
    writeUrl();
    for (const box of els.regions.querySelectorAll("[data-testid='kpi-region']")) {
      const on = box.dataset.region === code;
      box.classList.toggle("selected", on);
      const b = box.querySelector(".region-btn");
      if (!b) continue;
      b.setAttribute("aria-expanded", String(on));
      b.querySelector(".more").textContent = on ? "收起 ▴" : "网点 ▸";
      b.querySelector(".visually-hidden").textContent = on ? "（已展开网点明细）" : "：查看网点明细";
    }
    renderDrill();
    renderTrends();
    loadComplaints();
    if (code && focus) {
      els.drill.scrollIntoView({ block: "start", behavior: "smooth" });
      els.drillTitle.focus({ preventScroll: true });
    }
  }

  // --- drill-down: stations ranked, in a table and on a map ------------------------

  const COLUMNS = [
    { key: "rank", name: "排名", num: true, dir: "ascending" },
    { key: "station", name: "网点", dir: "ascending" },
    { key: "score", name: "综合得分", num: true, dir: "descending" },
  ].concat(KPIS.map((k) => ({
    key: k.key, name: k.short, title: k.name + (unit(k.key) ? "（" + unit(k.key) + "）" : ""),
    unit: k.kind === "hours" ? "时" : "", num: true, kpi: true,
    dir: k.better === "lower" ? "ascending" : "descending",
  })));

  function stationRows() {
    if (!S.summary) return [];
    const all = S.summary.rows.filter((r) => r.scope === "station");
    // A station-scoped token has no region rows: its station is the table.
    if (!S.summary.rows.some((r) => r.scope === "region")) return all;
    return all.filter((r) => r.region === S.region);
  }

  function renderDrill() {
    const onlyStations = S.summary && !S.summary.rows.some((r) => r.scope === "region");
    if (!S.region && !onlyStations) {
      els.drill.hidden = true;
      return;
    }
    els.drill.hidden = false;
    const name = S.region ? regionName(S.region) : "网点";
    els.drillTitle.textContent = (S.region ? name + " · " : "") + "网点排名与地图";
    const rows = stationRows();
    const ranked = rows.filter((r) => r.rank != null).length;
    els.stationNote.textContent = rows.length
      ? "共 " + rows.length + " 个网点，" + ranked + " 个本期有可评分的数据；排名按综合得分（按时修复、首次上门准时、一次修复、满意度、回访）。点击表头排序。"
      : "本期没有网点数据。";
    $("stations-caption").textContent = name + " 各网点指标（" + periodText(S.from, S.to) + "）";
    renderTable(rows);
    if (!els.mapKpi.options.length) {
      els.mapKpi.append(el("option", { value: "worst" }, "综合（最差一项）"));
      for (const k of KPIS.filter((k) => k.better)) els.mapKpi.append(el("option", { value: k.key }, k.name));
    }
    els.mapKpi.value = S.mapKpi;
    showMap();
  }

  function sortValue(r, key) {
    if (key === "rank") return r.rank;
    if (key === "score") return r.score;
    if (key === "station") return r.station_name || r.station_id;
    const c = r.kpis && r.kpis[key];
    return c ? c.value : null;
  }

  function sorted(rows) {
    const { key, dir } = S.sort;
    const sign = dir === "ascending" ? 1 : -1;
    return rows.slice().sort((a, b) => {
      const x = sortValue(a, key), y = sortValue(b, key);
      // Rows without a value go last whichever way the column sorts.
      if (x == null || y == null) {
        if (x == null && y == null) return (a.rank ?? 1e9) - (b.rank ?? 1e9) || String(a.station_id).localeCompare(String(b.station_id));
        return x == null ? 1 : -1;
      }
      const d = typeof x === "string" ? x.localeCompare(y, "zh-CN") : x - y;
      return sign * d || (a.rank ?? 1e9) - (b.rank ?? 1e9) || String(a.station_id).localeCompare(String(b.station_id));
    });
  }

  function renderTable(rows) {
    const head = el("tr");
    for (const col of COLUMNS) {
      const on = S.sort.key === col.key;
      const arrow = on ? (S.sort.dir === "ascending" ? "▲" : "▼") : "↕";
      head.append(el("th", {
        scope: "col", class: (col.num ? "num" : "") + (col.key === "station" ? " sticky" : ""),
        "aria-sort": on ? S.sort.dir : null,
      }, el("button", {
        type: "button", class: "sort", dataset: { key: col.key },
        onclick: () => {
          S.sort = S.sort.key === col.key
            ? { key: col.key, dir: S.sort.dir === "ascending" ? "descending" : "ascending" }
            : { key: col.key, dir: col.dir };
          renderTable(stationRows());
          const b = els.stations.querySelector(`button.sort[data-key="${col.key}"]`);
          if (b) b.focus();
        },
        title: col.title || null,
      }, col.name, col.unit ? el("small", null, "（" + col.unit + "）") : null,
      el("span", { class: "arrow", "aria-hidden": "true" }, arrow))));
    }
    const body = [];
    for (const r of sorted(rows)) {
      const tr = el("tr", { dataset: { testid: "kpi-station", station: r.station_id } },
        el("td", { class: "num rank", dataset: { col: "rank" } }, r.rank == null ? "—" : String(r.rank)),
        el("th", { scope: "row", class: "sticky name" }, r.station_name || r.station_id,
          el("span", { class: "sid" }, r.station_id)),
        el("td", { class: "num", dataset: { col: "score" } }, r.score == null ? "—" : (r.score * 100).toFixed(1)));
      for (const k of KPIS) {
        const c = (r.kpis && r.kpis[k.key]) || {};
        tr.append(el("td", {
          class: "num s-" + (c.status || "none"), dataset: { col: k.key, kpi: k.key },
          title: c.target != null ? targetText(k.key, c.target) : null,
        }, el("span", { class: "v" }, fmt(k.key, c.value)), badge(c.status, true)));
      }
      body.push(tr);
    }
    if (!body.length) {
      body.push(el("tr", null, el("td", { colspan: String(COLUMNS.length), class: "empty" }, "没有网点。")));
    }
    els.stations.tHead.replaceChildren(head);
    els.stations.tBodies[0].replaceChildren(...body);
  }

  // --- the map ------------------------------------------------------------------------

  const params = new URLSearchParams(location.search);
  let map = null, markers = null;

  function initMap() {
    if (map) return;
    map = Staff.baseMap(els.map, params, "底图不可用，仅显示网点");
    const legend = L.control({ position: "topright" });
    legend.onAdd = () => el("div", { class: "map-legend", "aria-hidden": "true" },
      ...["met", "at_risk", "missed", "none"].map((s) => el("span", null,
        el("i", { class: "st-dot " + s }, s === "none" ? "·" : STATUS[s].mark),
        s === "none" ? "无目标/无数据" : STATUS[s].word)));
    legend.addTo(map);
    markers = L.layerGroup().addTo(map);
    window.addEventListener("resize", () => map.invalidateSize({ pan: false }));
  }

  // A faint 5-degree grid with labels: some bearings when tiles are missing.

  let mapGen = 0;
  async function showMap() {
    initMap();
    map.invalidateSize({ pan: false });
    const code = S.region;
    const gen = ++mapGen;
    if (code && !S.geo.has(code)) {
      try {
        const fc = await Staff.api("GET", `${API}/stations?region=${encodeURIComponent(code)}&format=geojson&limit=5000`);
        S.geo.set(code, fc.features || []);
      } catch (e) {
        if (gen === mapGen) showError("网点位置加载失败：" + e.message);
        return;
      }
    }
    if (gen !== mapGen) return;
    drawMap(true);
  }

  function drawMap(fit) {
    if (!map) return;
    markers.clearLayers();
    const rows = new Map(stationRows().map((r) => [r.station_id, r]));
    const features = S.region ? (S.geo.get(S.region) || []) : [];
    const bounds = L.latLngBounds([]);
    let drawn = 0;
    for (const f of features) {
      if (!f.geometry || f.geometry.type !== "Point") continue;
      const [lon, lat] = f.geometry.coordinates;
      const id = String(f.id ?? (f.properties || {}).id);
      const row = rows.get(id);
      const status = statusOf(row, S.mapKpi) || "none";
      const name = (row && row.station_name) || (f.properties || {}).name || id;
      const word = status === "none" ? (row ? "无目标" : "无数据") : STATUS[status].word;
      const m = L.marker([lat, lon], {
        title: name + " · " + word,
        alt: name + " · " + word,
        icon: L.divIcon({
          className: "st-marker " + status,
          html: el("span", { "aria-hidden": "true" }, status === "none" ? "·" : STATUS[status].mark),
          iconSize: [20, 20], iconAnchor: [10, 10],
        }),
        riseOnHover: true,
        zIndexOffset: { missed: 300, at_risk: 200, met: 100 }[status] || 0,
      });
      m.bindPopup(() => stationPopup(name, id, row));
      m.on("click", () => highlightRow(id));
      m.addTo(markers);
      bounds.extend([lat, lon]);
      drawn += 1;
    }
    els.map.dataset.markers = String(drawn);
    if (fit && bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 10 });
  }

  function stationPopup(name, id, row) {
    const box = el("div", { class: "popup" }, el("strong", null, name),
      el("div", { class: "muted" }, id + (row && row.rank != null ? " · 区域内第 " + row.rank + " 名" : "")));
    if (!row) { box.append(el("div", null, "本期没有数据。")); return box; }
    const list = el("ul");
    for (const k of KPIS) {
      const c = row.kpis[k.key] || {};
      if (!c.status && !k.head) continue;
      list.append(el("li", null, k.name + " " + fmt(k.key, c.value) + (unit(k.key) && c.value != null ? " " + unit(k.key) : "") + " ",
        badge(c.status, false)));
    }
    box.append(list);
    return box;
  }

  function highlightRow(id) {
    for (const tr of els.stations.querySelectorAll("tr.hl")) tr.classList.remove("hl");
    const tr = els.stations.querySelector(`tr[data-station="${CSS.escape(id)}"]`);
    if (tr) {
      tr.classList.add("hl");
      tr.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
  }

  // --- trends ---------------------------------------------------------------------------

  const NET_COLOUR = "#56656f";
  const REGION_COLOUR = "#0b63c5";
  const TARGET_COLOUR = "#2e7d32";

  function destroyCharts() {
    for (const c of S.charts) c.u.destroy();
    S.charts = [];
  }

  function renderTrends() {
    if (!S.trend) return;
    destroyCharts();
    const rows = S.trend.rows;
    const labels = [];
    const seen = new Set();
    for (const r of rows) {
      if (r.period != null && !seen.has(r.period)) { seen.add(r.period); labels.push(r.period); }
    }
    const net = new Map(rows.filter((r) => r.scope === "network").map((r) => [r.period, r]));
    const regionRows = rows.filter((r) => r.scope === "region");
    const code = S.region || (regionRows.length && !net.size ? regionRows[0].region : null);
    const reg = new Map(regionRows.filter((r) => r.region === code).map((r) => [r.period, r]));
    const lines = [];
    if (net.size) lines.push({ name: "全网", colour: NET_COLOUR, rows: net, cls: "net" });
    if (code) lines.push({ name: regionName(code), colour: REGION_COLOUR, rows: reg, cls: "region" });
    const targetFrom = code ? reg : net;

    els.trendLegend.replaceChildren(
      ...lines.map((l) => el("span", { class: "key " + l.cls }, el("i", { "aria-hidden": "true" }), l.name)),
      el("span", { class: "key target" }, el("i", { "aria-hidden": "true" }), "目标" + (code && net.size ? "（" + regionName(code) + "）" : "")),
      ...(!code && net.size ? [el("span", { class: "muted" }, "点击上方区域名称加入该区域的曲线")] : []),
    );
    if (!labels.length) {
      els.trends.replaceChildren(el("p", { class: "empty" }, "这个统计期没有数据。"));
      return;
    }
    const figs = [];
    for (const k of KPIS) {
      const values = lines.map((l) => labels.map((p) => {
        const c = l.rows.get(p) && l.rows.get(p).kpis[k.key];
        return c && c.value != null ? c.value : null;
      }));
      const target = labels.map((p) => {
        const c = targetFrom.get(p) && targetFrom.get(p).kpis[k.key];
        return c && c.target != null ? c.target : null;
      });
      const hasTarget = target.some((t) => t != null);
      const readout = el("span", { class: "readout", "aria-hidden": "true" });
      const plot = el("div", { class: "plot", role: "img", "aria-label": describe(k, labels, lines, values, target) });
      const fig = el("figure", { class: "chart", dataset: { kpi: k.key, testid: "kpi-chart" } },
        el("figcaption", null, el("span", { class: "chart-name" }, k.name + (unit(k.key) ? "（" + unit(k.key) + "）" : "")), readout),
        plot);
      figs.push({ k, fig, plot, readout, values, target, hasTarget });
    }
    els.trends.replaceChildren(...figs.map((f) => f.fig));
    for (const f of figs) {
      const data = [labels.map((_, i) => i), ...f.values];
      const series = [{}].concat(lines.map((l) => ({
        label: l.name, stroke: l.colour, width: l.cls === "region" ? 2.5 : 2,
        points: { show: labels.length <= 31, size: 5, fill: l.colour },
        value: (u, v) => fmt(f.k.key, v),
      })));
      if (f.hasTarget) {
        data.push(f.target);
        series.push({ label: "目标", stroke: TARGET_COLOUR, width: 1.5, dash: [6, 4], points: { show: false } });
      }
      const u = new uPlot(chartOpts(f, labels, series, plotWidth(f.plot)), data, f.plot);
      S.charts.push({ u, plot: f.plot });
    }
    els.trends.dataset.drawn = String(S.charts.length);
  }

  function plotWidth(plot) { return Math.max(200, Math.floor(plot.clientWidth || 280)); }

  function chartOpts(f, labels, series, width) {
    const key = f.k.key;
    const kind = f.k.kind;
    const n = labels.length;
    return {
      width, height: 150,
      legend: { show: false },
      cursor: { drag: { x: false, y: false, setScale: false }, points: { size: 7 } },
      scales: {
        x: { time: false, range: () => [-0.5, n - 0.5] },
        // From every line and the target, so none is cut off.
        y: { range: () => yRange(kind, ...extent([...f.values, f.target])) },
      },
      axes: [
        {
          stroke: "#52616b", font: "11px sans-serif", size: 26, gap: 3,
          grid: { show: false }, ticks: { show: true, size: 3, stroke: "#c5d0d8" },
          space: 46,
          incrs: [1, 2, 3, 4, 5, 7, 10, 14, 15, 20, 28, 30, 60, 90],
          values: (u, splits) => splits.map((i) => (Number.isInteger(i) && i >= 0 && i < n ? shortLabel(labels[i]) : "")),
        },
        {
          stroke: "#52616b", font: "11px sans-serif", size: 44, gap: 3,
          grid: { stroke: "#e6ecf0", width: 1 }, ticks: { show: false },
          values: (u, splits) => splits.map((v) => axisValue(kind, v)),
        },
      ],
      series,
      hooks: {
        setCursor: [(u) => {
          const i = u.cursor.idx;
          if (i == null) { f.readout.textContent = ""; return; }
          const parts = series.slice(1).map((s, j) => s.label + " " + fmt(key, u.data[j + 1][i]));
          f.readout.textContent = longLabel(labels[i]) + "：" + parts.join(" · ");
        }],
      },
    };
  }

  function extent(lists) {
    let min = null, max = null;
    for (const list of lists) {
      for (const v of list) {
        if (v == null || !Number.isFinite(v)) continue;
        if (min == null || v < min) min = v;
        if (max == null || v > max) max = v;
      }
    }
    return [min, max];
  }

  function yRange(kind, min, max) {
    if (min == null || max == null || !Number.isFinite(min) || !Number.isFinite(max)) {
      return kind === "rate" ? [0, 1] : kind === "score" ? [1, 5] : [0, 1];
    }
    if (kind === "rate") {
      const lo = Math.max(0, Math.floor((Math.min(min, max) - 0.05) * 10) / 10);
      return [Math.min(lo, 0.8), 1];
    }
    if (kind === "score") return [Math.max(1, Math.min(3, Math.floor(min - 0.5))), 5];
    const top = max <= 0 ? 1 : max * 1.15;
    return [0, kind === "count" ? Math.max(1, Math.ceil(top)) : top];
  }

  function axisValue(kind, v) {
    if (kind === "rate") return Math.round(v * 100) + "%";
    if (kind === "count") return Number.isInteger(v) ? int.format(v) : "";
    if (kind === "score") return v.toFixed(1);
    return v >= 10 ? String(Math.round(v)) : String(Math.round(v * 10) / 10);
  }

  /** A chart's text alternative: first and last value of each line. */
  function describe(k, labels, lines, values, target) {
    const first = labels[0], last = labels[labels.length - 1];
    const parts = lines.map((l, i) => {
      const vs = values[i].filter((v) => v != null);
      if (!vs.length) return l.name + "无数据";
      return l.name + "：" + longLabel(first) + " " + fmt(k.key, values[i][0]) + "，" +
        longLabel(last) + " " + fmt(k.key, values[i][values[i].length - 1]) +
        "，最高 " + fmt(k.key, Math.max(...vs)) + "，最低 " + fmt(k.key, Math.min(...vs));
    });
    const t = target.find((x) => x != null);
    return k.name + "趋势（" + GRAN[S.gran] + "）。" + parts.join("；") + (t != null ? "。" + targetText(k.key, t) : "");
  }

  // Charts follow their boxes (window resize, phone rotation).
  let resizeQueued = false;
  new ResizeObserver(() => {
    if (resizeQueued) return;
    resizeQueued = true;
    requestAnimationFrame(() => {
      resizeQueued = false;
      for (const c of S.charts) {
        const w = plotWidth(c.plot);
        if (Math.abs(w - c.u.width) > 2) c.u.setSize({ width: w, height: 150 });
      }
    });
  }).observe(els.trends);

  // --- complaints waiting for a call back -------------------------------------------------

  const DONE = "repaired,picked_up,mailed_back,closed";
  const MAX_PAGES = 50;

  /** Jobs whose customer scored 1 or 2 and was not called back yet: the
   *  server filters the finished jobs by their `recontact_customer` task. */
  async function loadComplaints() {
    const gen = ++S.complaintsGen;
    const code = S.region;
    els.complaints.setAttribute("aria-busy", "true");
    els.complaintsNote.textContent = "正在查找" + (code ? regionName(code) : "") + "待回访的投诉…";
    const found = [];
    let cursor = null, pages = 0;
    try {
      do {
        const p = new URLSearchParams({ status: DONE, task: "recontact_customer", summary: "true", limit: "200" });
        if (code) p.set("region", code);
        if (cursor) p.set("cursor", cursor);
        const page = await Staff.api("GET", `${API}/jobs?${p}`);
        if (gen !== S.complaintsGen) return;
        for (const j of page.items || []) {
          const t = (j.tasks || []).find((x) => x.task === "recontact_customer");
          if (t) found.push({ job: j, task: t });
        }
        cursor = page.next_cursor;
        pages += 1;
      } while (cursor && pages < MAX_PAGES);
    } catch (e) {
      if (gen !== S.complaintsGen) return;
      els.complaintsNote.textContent = "投诉加载失败：" + e.message;
      els.complaints.setAttribute("aria-busy", "false");
      return;
    }
    found.sort((a, b) => Date.parse(a.task.raise_at) - Date.parse(b.task.raise_at));
    renderComplaints(found, code, Boolean(cursor));
  }

  function stationName(id) {
    if (!id) return "—";
    const r = S.summary && S.summary.rows.find((x) => x.scope === "station" && x.station_id === id);
    return (r && r.station_name) || id;
  }

  function waited(iso) {
    const h = Math.floor((Date.now() - Date.parse(iso)) / 3600000);
    if (h < 1) return "不到1小时";
    if (h < 48) return h + "小时";
    return Math.floor(h / 24) + "天";
  }

  function renderComplaints(found, code, more) {
    const where = code ? regionName(code) : (S.me && S.me.scope && S.me.scope.kind === "region" ? regionName(S.me.scope.id) : "全部区域");
    els.complaintsNote.textContent = found.length
      ? where + "共 " + found.length + " 条投诉待回访（评分 1–2 分），等待最久的在前。请致电客户，回访结果由客服或调度在工单中记录。" +
        (more ? " 只列出了前 " + MAX_PAGES * 200 + " 条。" : "")
      : where + "没有待回访的投诉。";
    const items = found.map(({ job, task }) => {
      const cust = job.customer || {};
      const score = task.satisfaction ?? job.satisfaction;
      const phone = cust.phone || "";
      return el("li", { class: "complaint", dataset: { testid: "kpi-complaint", code: job.code } },
        el("div", { class: "c-main" },
          el("span", { class: "c-code" }, job.code),
          el("span", { class: "c-score", title: "满意度评分" }, "评分 ", el("b", null, score == null ? "—" : String(score)), " / 5"),
          el("span", { class: "c-region muted" }, regionName(job.region))),
        el("div", { class: "c-station" }, stationName(job.station_id)),
        el("div", { class: "c-when" }, el("time", { datetime: task.raise_at }, Staff.time(task.raise_at)),
          el("span", { class: "c-wait" }, "已等 " + waited(task.raise_at))),
        el("div", { class: "c-who" }, el("span", null, cust.name || "客户"),
          phone ? el("a", { href: "tel:" + phone.replace(/[^\d+]/g, ""), class: "tel" }, "☎ " + phone) : null));
    });
    els.complaints.replaceChildren(...items);
    els.complaints.setAttribute("aria-busy", "false");
    els.complaints.dataset.loaded = "true";
  }

  // --- start -----------------------------------------------------------------------------------

  Staff.session(async () => {
    const me = await Staff.api("GET", `${API}/session`);
    if (!["manager", "dispatcher", "admin"].includes(me.role)) {
      throw new Staff.ApiError(403, { error: { code: "forbidden", message: "wrong role" } });
    }
    S.me = me;
    const sc = me.scope || {};
    els.scope.textContent = sc.kind === "region" ? "· " + regionName(sc.id)
      : sc.kind === "station" ? "· 网点 " + sc.id : "· 全网";
    try {
      const r = await Staff.api("GET", `${API}/regions`);
      for (const x of r.items || []) S.regions.set(x.code, x.name);
    } catch (_) { /* the built-in names serve */ }
    readUrl();
    await load();
  });
})();
