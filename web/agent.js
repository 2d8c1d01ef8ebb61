// The call-centre console (/agent): one caller at a time, keyboard first.
// The caller's number brings up their earlier jobs; the spoken address
// brings up the division, the nearby stations (with the reason each one
// cannot take the job), the warranty decision and the earliest visits; one
// Enter opens the job with the recommended technician and the earliest
// slot. Everything from the API goes in as text (Staff.el / textContent).
"use strict";

/** A technician as the agent names them to the caller: name and number. */
function techName(t) {
  return t.technician_name ? `技师 ${t.technician_name}（#${t.technician_id}）` : `技师 #${t.technician_id}`;
}

(() => {
  const $ = (id) => document.getElementById(id);
  const el = Staff.el;
  const API = "/api/v1";

  const KIND = { onsite: "上门维修", carry_in: "送修" };
  const PERIOD = { am: "上午", pm: "下午" };
  const SERVICE = { onsite: "上门", carry_in: "送修" };
  const LEVEL = { province: "省", city: "市", district: "区县", town: "乡镇街道" };
  const EVENT = {
    created: "受理", assign: "派工", transfer: "转派", en_route: "技师出发", on_site: "技师上门",
    repaired: "修复", repairing: "开始维修", ready_for_pickup: "修好待取", notified: "通知取件",
    picked_up: "客户取件", mailed_back: "寄回客户", hold: "暂停", resume: "恢复", closed: "关闭",
    cancelled: "已取消", follow_up: "回访", rescheduled: "改约", corrected: "修改信息",
  };
  /** The fields a `corrected` event names. */
  const CORRECTED = { "customer.name": "姓名", "customer.phone": "电话", address: "地址", problem: "故障描述" };
  // Reasons a nearby station cannot take the job; the API's codes are in
  // Staff.REJECT, the console's own checks below.
  const REASON = Object.assign({}, Staff.REJECT, {
    no_carry_in: "不接受送修",
    no_slots: "近 3 天没有可约的技师",
  });
  const FIELD = {
    "customer.phone": "caller-phone", "customer.name": "customer-name", address: "address",
    lat: "address", lon: "address", product: "product", purchase_date: "purchase-date",
    problem: "problem", kind: "kind", request: "request", damage: "damage",
  };
  const FINAL = new Set(["closed", "cancelled", "repaired", "picked_up", "mailed_back"]);

  const state = {
    key: Staff.newKey(),   // the Idempotency-Key of this call's form
    created: null,         // the job once created
    submitting: false,
    intakeOptions: true,   // false once /intake/options answers 404
    phoneFilter: true,     // false once /jobs?phone= is refused
    preview: null,         // the last answer for address + product + kind
    previewSig: null,
    previewRun: null,      // the promise of the preview in flight (or done)
    previewAbort: null,
    candidates: [],        // divisions the spoken address may mean
    division: 0,           // the chosen one (0: the first, as the API ranks)
    slots: [],             // distinct half-days, earliest first
    slot: 0,
    carryStations: [],
    carryStation: 0,
    phoneSeq: 0,
    warrantySeq: 0,
  };

  // --- small helpers ------------------------------------------------------

  function debounce(fn, ms) {
    let t = null;
    const d = (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
    d.cancel = () => clearTimeout(t);
    d.flush = (...args) => { clearTimeout(t); return fn(...args); };
    return d;
  }

  function qs(params) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v != null && v !== "") p.set(k, String(v));
    return p.toString();
  }

  function show(node, on) { node.hidden = !on; }
  function clear(node) { node.replaceChildren(); }
  function setText(node, text) { node.textContent = text == null ? "" : String(text); }

  /** Today's date in Asia/Shanghai, `YYYY-MM-DD`. */
  function today() {
    return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
  }
  function shanghaiHour() {
    return Number(new Intl.DateTimeFormat("en-GB", {
      timeZone: "Asia/Shanghai", hour: "2-digit", hour12: false,
    }).format(new Date())) % 24;
  }

  /** Digits of a phone number as the API keeps it (a leading + kept). */
  function phoneDigits(v) {
    const t = v.trim();
    return (t.startsWith("+") ? "+" : "") + t.replace(/\D/g, "");
  }

  /** `2026-10-23`, `2026/10/23`, `2026.10.23`, `20261023`, `2026年10月23日`
   *  as `YYYY-MM-DD`, or null. */
  function parseDate(v) {
    const t = v.trim();
    let m = t.match(/^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$/) ||
            t.match(/^(\d{4})(\d{2})(\d{2})$/);
    if (!m) return null;
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const dt = new Date(Date.UTC(y, mo - 1, d));
    if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) return null;
    return `${m[1]}-${String(mo).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
  }

  const weekdayFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", weekday: "short" });
  /** A calendar day `YYYY-MM-DD` as `12月4日周五` (spelled out, whatever
   *  the browser's short date style is). */
  function dayLabel(ymd) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd || "");
    if (!m) return ymd || "—";
    const weekday = weekdayFmt.format(new Date(`${ymd}T12:00:00+08:00`));
    return `${Number(m[2])}月${Number(m[3])}日${weekday}`;
  }

  function daysBetween(a, b) {
    return Math.round((Date.parse(b + "T00:00:00Z") - Date.parse(a + "T00:00:00Z")) / 86400000);
  }

  /** The Chinese sentence of a reason that carries Chinese then English. */
  function chinese(reason) {
    if (!reason) return "";
    const m = reason.match(/^(.*?[。！？])\s*[A-Za-z]/);
    return m ? m[1] : reason;
  }

  const WEEKDAY = { Mo: "周一", Tu: "周二", We: "周三", Th: "周四", Fr: "周五", Sa: "周六", Su: "周日" };
  /** Common OpenStreetMap opening hours in Chinese (`Mo-Su 09:00-18:00` →
   *  `每天 09:00-18:00`); anything unusual is shown as it is. */
  function hours(oh) {
    if (!oh) return "";
    return oh
      .replace(/\bMo-Su\b/g, "每天")
      .replace(/\b(Mo|Tu|We|Th|Fr|Sa|Su)-(Mo|Tu|We|Th|Fr|Sa|Su)\b/g, (_, a, b) => `${WEEKDAY[a]}至${WEEKDAY[b]}`)
      .replace(/\b(Mo|Tu|We|Th|Fr|Sa|Su)\b/g, (d) => WEEKDAY[d])
      .replace(/\bPH off\b/g, "节假日休息")
      .replace(/\boff\b/g, "休息")
      .replace(/;\s*/g, "；");
  }

  function divisionName(d) {
    if (!d) return "";
    const parts = [d.province, d.city, d.district].filter(Boolean);
    const uniq = parts.filter((p, i) => parts.indexOf(p) === i);
    if (d.level === "town" && d.name && !uniq.includes(d.name)) uniq.push(d.name);
    return uniq.join(" ") || d.name || d.adcode || "";
  }

  // Station names for ids, fetched once each (the directory is public).
  const stations = new Map();
  function rememberStation(s) { if (s && s.id) stations.set(s.id, Promise.resolve(s)); }
  function station(id) {
    if (!id) return Promise.resolve(null);
    if (!stations.has(id)) {
      stations.set(id, Staff.api("GET", `${API}/stations/${encodeURIComponent(id)}`).catch(() => null));
    }
    return stations.get(id);
  }
  /** A span showing the station's name once known (its id until then). */
  function stationName(id) {
    const span = el("span", { class: "station-name" }, id || "—");
    station(id).then((s) => { if (s && s.name) span.textContent = s.name; });
    return span;
  }

  function fieldError(id, message) {
    const input = $(id);
    const p = $(id + "-error");
    if (input) {
      if (message) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
    if (p) { setText(p, message); show(p, !!message); }
  }
  function clearFieldErrors() {
    for (const id of ["caller-phone", "customer-name", "address", "product", "purchase-date"]) fieldError(id, "");
  }

  /** A token revoked or expired mid-call: the log-in form with the reason;
   *  the form keeps what was typed (and its Idempotency-Key) for after. */
  function sessionLost(e) {
    if (!(e instanceof Staff.ApiError) || e.status !== 401) return false;
    show($("app"), false);
    show($("new-call"), false);
    show($("logout"), false);
    show($("login"), true);
    setText($("login-error"), e.message);
    show($("login-error"), true);
    $("login-token").value = "";
    $("login-token").focus();
    return true;
  }

  // --- the caller's earlier jobs ------------------------------------------

  const lookupPhone = debounce(() => loadHistory(), 300);

  async function loadHistory() {
    const digits = phoneDigits($("caller-phone").value);
    const seq = ++state.phoneSeq;
    const summary = $("caller-summary");
    if (digits.replace("+", "").length < 5) {
      clear(summary);
      renderHistory([], null);
      setText($("history-status"), "输入来电号码后，这里显示该号码的历史工单。");
      delete document.body.dataset.historyFor;
      return;
    }
    setText(summary, "正在查询该号码的工单…");
    $("history").setAttribute("aria-busy", "true");
    try {
      let jobs;
      let openOnly = false;
      if (state.phoneFilter) {
        try {
          jobs = (await Staff.api("GET", `${API}/jobs?${qs({ phone: digits, limit: 100 })}`)).items;
        } catch (e) {
          if (!(e instanceof Staff.ApiError) || e.status !== 400) throw e;
          state.phoneFilter = false;
        }
      }
      if (!jobs) {
        // Older servers: the open jobs, filtered here.
        openOnly = true;
        const page = await Staff.api("GET", `${API}/jobs?${qs({ status: "open", limit: 500 })}`);
        jobs = page.items.filter((j) => j.customer && phoneDigits(j.customer.phone || "") === digits);
      }
      if (seq !== state.phoneSeq) return;
      jobs.sort((a, b) => (b.created_at || "").localeCompare(a.created_at || ""));
      renderCallerSummary(jobs, openOnly);
      renderHistory(jobs, openOnly);
      document.body.dataset.historyFor = digits;
    } catch (e) {
      if (seq !== state.phoneSeq) return;
      sessionLost(e);
      clear(summary);
      renderHistory([], null);
      setText($("history-status"), e.message);
      $("history-status").classList.add("is-error");
      document.body.dataset.historyFor = digits;
    } finally {
      if (seq === state.phoneSeq) $("history").removeAttribute("aria-busy");
    }
  }

  function renderCallerSummary(jobs, openOnly) {
    const summary = $("caller-summary");
    clear(summary);
    if (!jobs.length) {
      summary.append(openOnly ? "该号码没有进行中的工单（新客户或已完成）。" : "该号码没有历史工单，是新来电。");
      return;
    }
    const open = jobs.filter((j) => !FINAL.has(j.status)).length;
    summary.append(
      el("span", { class: "caller-count" },
        `该号码有 ${jobs.length} 张工单` + (openOnly ? "（仅进行中）" : `，${open} 张进行中`)),
      " 详见", el("a", { href: "#history" }, "「来电记录」"), "。",
    );
    const last = jobs[0];
    if (!state.created && last.customer && last.customer.name) {
      summary.append(" ", el("button", {
        type: "button", class: "link", id: "reuse-caller",
        onclick: () => reuseCaller(last),
      }, `沿用上次信息：${last.customer.name}` + (last.address ? ` · ${last.address}` : "")));
    }
  }

  function reuseCaller(job) {
    // Name and address only: the product and purchase date are asked again.
    $("customer-name").value = job.customer.name || "";
    if (job.address) $("address").value = job.address;
    onAddressChanged();
    runPreview();
    $("product").focus();
  }

  function renderHistory(jobs, openOnly) {
    const list = $("history-list");
    const status = $("history-status");
    status.classList.remove("is-error");
    notify("");
    clear(list);
    setText($("history-count"), jobs.length ? `${jobs.length} 张` : "");
    if (openOnly === null) return;
    if (!jobs.length) {
      setText(status, openOnly ? "该号码没有进行中的工单。" : "该号码没有历史工单。");
      return;
    }
    setText(status, openOnly ? "该号码进行中的工单（服务器暂不支持按号码查全部历史）：" : "该号码的工单，最新在前：");
    const firstOpen = jobs.find((j) => !FINAL.has(j.status)) || jobs[0];
    for (const job of jobs) list.append(jobCard(job, job === firstOpen));
  }

  function statusBadge(status) {
    const cls = FINAL.has(status) ? (status === "cancelled" ? "badge muted" : "badge done") : "badge active";
    return el("span", { class: cls }, Staff.STATUS[status] || status);
  }

  /** One earlier job: a summary line that opens into what the caller asks about. */
  function jobCard(job, open) {
    const a = job.assignment;
    const sla = job.sla && job.sla.completion && job.sla.completion.state;
    const details = el("details", { class: "job", open, dataset: { code: job.code, id: job.id } });
    details.append(el("summary", {},
      el("span", { class: "job-card-code" }, job.code),
      statusBadge(job.status),
      el("span", { class: "job-card-meta" },
        `${Staff.PRODUCTS[job.product] || job.product} · ${KIND[job.kind] || job.kind} · ${Staff.time(job.created_at)} 受理`),
    ));
    const facts = el("dl", { class: "facts" });
    const fact = (label, ...value) => facts.append(el("div", {}, el("dt", {}, label), el("dd", {}, ...value)));
    fact("完成时限", Staff.time(job.due_at),
      sla && sla !== "on_track" && Staff.SLA[sla] ? el("span", { class: `sla sla-${sla}` }, ` ${Staff.SLA[sla]}`) : null);
    fact(job.kind === "carry_in" ? "送修网点" : "服务网点", job.station_id ? stationName(job.station_id) : "未派工");
    if (a) {
      fact("上门安排", `${dayLabel(a.day)} ${PERIOD[a.period] || ""} · ${techName(a)}` +
        (a.eta_minutes != null ? ` · 车程约 ${a.eta_minutes} 分钟` : ""));
    }
    if (job.warranty) fact("保修", Staff.WARRANTY[job.warranty.decision] || job.warranty.decision || "—");
    if (job.address) fact("地址", job.address);
    if (job.problem) fact("故障", job.problem);
    details.append(facts);
    const last4 = (job.customer && job.customer.phone || "").slice(-4);
    details.append(el("p", { class: "readout" },
      "告知客户：工单号 ", el("strong", { class: "mono" }, job.code),
      `，可用工单号和手机尾号 ${last4} 查询维修进度。`));
    if (!FINAL.has(job.status)) details.append(jobActions(job));
    const events = job.events || [];
    if (events.length) {
      const ol = el("ol", { class: "timeline", "aria-label": `${job.code} 的处理记录` });
      for (const ev of events) {
        const label = EVENT[ev.event] || ev.event;
        const to = ev.to_status && (Staff.STATUS[ev.to_status] || ev.to_status);
        const moved = to && ev.to_status !== ev.from_status && to !== label;
        ol.append(el("li", {},
          el("time", { datetime: ev.at }, Staff.time(ev.at)), " ",
          el("span", { class: "ev" }, label),
          eventDetail(ev),
          moved ? ` → ${to}` : "",
          ev.reason ? el("span", { class: "ev-reason" }, `（${ev.reason}）`) : null));
      }
      details.append(ol);
    }
    return details;
  }

  async function lookupCode(ev) {
    ev.preventDefault();
    const code = $("code-input").value.trim();
    if (!code) { $("code-input").focus(); return; }
    const status = $("history-status");
    setText(status, "正在查询工单…");
    status.classList.remove("is-error");
    try {
      const job = await Staff.api("GET", `${API}/jobs/${encodeURIComponent(code)}`);
      clear($("history-list"));
      notify("");
      setText(status, "按工单号查到：");
      setText($("history-count"), "");
      $("history-list").append(jobCard(job, true));
    } catch (e) {
      sessionLost(e);
      setText(status, e.message);
      status.classList.add("is-error");
    }
  }

  /** What a `rescheduled` or `corrected` event changed. */
  function eventDetail(ev) {
    const d = ev.data || {};
    if (ev.event === "rescheduled" && d.to) {
      return `：${windowName(d.to.day, d.to.period)}` +
        (d.from && d.from.day ? `（原 ${windowName(d.from.day, d.from.period)}）` : "");
    }
    if (ev.event === "corrected" && Array.isArray(d.fields) && d.fields.length) {
      return "：" + d.fields.map((f) => CORRECTED[f] || f).join("、");
    }
    return "";
  }

  /** `12月4日周五 下午` for a visit window. */
  function windowName(day, period) {
    return `${dayLabel(day)} ${PERIOD[period] || period || ""}`.trim();
  }

  /** `明天（12月3日周四）上午`: as told to the caller. */
  function spokenWindow(day, period) {
    const name = dayName(day);
    const label = dayLabel(day);
    return `${name}${name !== label ? `（${label}）` : " "}${PERIOD[period] || ""}`.trim();
  }

  // --- serving a caller from an existing job -------------------------------

  const RESCHEDULABLE = new Set(["new", "assigned"]);
  /** Refusals staff.js has no sentence for. */
  const REFUSED = {
    not_reschedulable: "这张工单已不能改约：只有技师尚未出发的上门工单可以改约。",
    not_correctable: "这张工单已结束，不能再修改信息。",
  };
  function refusal(e) {
    return (e instanceof Staff.ApiError && REFUSED[e.code]) || e.message;
  }

  /** The buttons of an open job in the caller's record. */
  function jobActions(job) {
    const row = el("div", { class: "job-actions", role: "group", "aria-label": `${job.code} 的操作` });
    const button = (testid, label, cls, open) => el("button", {
      type: "button", class: cls, dataset: { testid },
      onclick: (e) => open(job, e.currentTarget),
    }, label);
    if (job.kind === "onsite" && RESCHEDULABLE.has(job.status)) {
      row.append(button("job-reschedule", "改约", "secondary", openReschedule));
    }
    row.append(button("job-correct", "修改信息", "secondary", openCorrect));
    row.append(button("job-cancel", "取消工单", "secondary danger-outline", openCancel));
    return row;
  }

  function cardFor(code) {
    return [...$("history-list").querySelectorAll("details.job")].find((d) => d.dataset.code === code) || null;
  }

  /** Shows the job as the API now holds it, where its card was. */
  function replaceCard(job) {
    const old = cardFor(job.code);
    const card = jobCard(job, true);
    if (old) old.replaceWith(card);
    else $("history-list").prepend(card);
  }

  function notify(text) {
    setText($("history-notice"), text);
  }

  // The open dialog's job and the button that opened it (focus goes back
  // there, or to the same button of the refreshed card).
  const action = { job: null, code: null, opener: null, testid: null, busy: false };

  function openDialog(dialog, job, opener, focus) {
    action.job = job;
    action.code = job.code;
    action.opener = opener;
    action.testid = opener && opener.dataset.testid;
    action.busy = false;
    notify("");
    dialog.showModal();
    if (focus) focus.focus();
  }

  function restoreFocus() {
    let target = action.opener && action.opener.isConnected ? action.opener : null;
    if (!target) {
      const card = cardFor(action.code);
      if (card) {
        target = (action.testid && card.querySelector(`[data-testid="${action.testid}"]`)) ||
          card.querySelector("summary");
      }
    }
    if (target) target.focus();
  }

  function dialogError(id, text) {
    const p = $(id);
    setText(p, text);
    show(p, !!text);
  }

  function jobLine(job) {
    const name = job.customer && job.customer.name;
    return [job.code, Staff.STATUS[job.status] || job.status, name].filter(Boolean).join(" · ");
  }

  /** Runs `call` for the open dialog, or shows why it was refused there. */
  async function act(dialog, errorId, submit, call) {
    if (action.busy) return;
    action.busy = true;
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    dialogError(errorId, "");
    try {
      const job = await call();
      replaceCard(job);
      return job;
    } catch (e) {
      if (sessionLost(e)) { dialog.close(); return null; }
      throw e;
    } finally {
      action.busy = false;
      submit.disabled = false;
      submit.removeAttribute("aria-busy");
    }
  }

  // 改约: the earliest windows of the job's technician, a week ahead.
  const reschedule = { slots: [], seq: 0 };

  async function openReschedule(job, opener) {
    const dialog = $("reschedule-dialog");
    const a = job.assignment;
    const sub = $("reschedule-job");
    clear(sub);
    sub.append(jobLine(job), " · 现在约的是 ",
      ...(a && a.day ? [el("span", { class: "nowrap" }, spokenWindow(a.day, a.period)), ` · ${techName(a)}`]
        : ["（尚未约时间）"]));
    $("reschedule-reason").value = "";
    dialogError("reschedule-error", "");
    const list = $("reschedule-slot-list");
    clear(list);
    reschedule.slots = [];
    const status = $("reschedule-slot-status");
    status.classList.remove("warn");
    setText(status, "正在查询可约时间…");
    $("reschedule-submit").disabled = true;
    delete dialog.dataset.slots;
    // The title holds the focus while the windows load.
    openDialog(dialog, job, opener, $("reschedule-title"));
    const seq = ++reschedule.seq;
    try {
      const r = await Staff.api("GET",
        `${API}/slots?${qs({ lat: job.lat, lon: job.lon, product: job.product, days: 7 })}`);
      if (seq !== reschedule.seq) return;
      renderRescheduleSlots(job, r.slots || []);
    } catch (e) {
      if (seq !== reschedule.seq) return;
      if (sessionLost(e)) { dialog.close(); return; }
      status.classList.add("warn");
      setText(status, e.message);
      dialog.dataset.slots = "error";
      if (document.activeElement === $("reschedule-title")) $("reschedule-back").focus();
    }
  }

  function renderRescheduleSlots(job, slots) {
    const dialog = $("reschedule-dialog");
    const a = job.assignment;
    const tech = a && a.technician_id;
    const now = today();
    const hour = shanghaiHour();
    const seen = new Set(a ? [a.day + a.period] : []);
    const offered = [];
    for (const s of slots) {
      // The visit keeps its technician: only their windows can be booked.
      if (tech != null && s.technician_id !== tech) continue;
      if (s.date === now && !(s.period === "am" ? hour < 9 : hour < 13)) continue;
      const k = s.date + s.period;
      if (seen.has(k)) continue;
      seen.add(k);
      offered.push(s);
    }
    offered.sort((x, y) => (x.date + x.period).localeCompare(y.date + y.period));
    reschedule.slots = offered.slice(0, 9);
    const list = $("reschedule-slot-list");
    const status = $("reschedule-slot-status");
    clear(list);
    if (!reschedule.slots.length) {
      status.classList.add("warn");
      setText(status, tech != null
        ? `${techName(a)} 近 7 天没有其他空档：请联系调度转派，或请客户稍后再约。`
        : "近 7 天没有可约的上门时间，请联系调度安排。");
      dialog.dataset.slots = "none";
      if (document.activeElement === $("reschedule-title")) $("reschedule-back").focus();
      return;
    }
    reschedule.slots.forEach((s, i) => {
      const id = `reschedule-slot-${i}`;
      list.append(el("div", { class: "chip" },
        el("input", { type: "radio", name: "reschedule-slot", id, value: String(i), checked: i === 0,
          class: "sr-only", dataset: { date: s.date, period: s.period } }),
        el("label", { for: id },
          el("span", { class: "chip-day" }, dayName(s.date)),
          el("span", { class: "chip-period" }, PERIOD[s.period] || s.period))));
    });
    setText(status, tech != null ? `以上是 ${techName(a)} 可约的时间，默认最早。` : "默认最早的时间。");
    $("reschedule-submit").disabled = false;
    dialog.dataset.slots = "ready";
    // The earliest window takes the focus unless the agent has moved on.
    if (document.activeElement === $("reschedule-title")) $("reschedule-slot-0").focus();
  }

  async function submitReschedule(ev) {
    ev.preventDefault();
    const dialog = $("reschedule-dialog");
    const picked = $("reschedule-slot-list").querySelector("input:checked");
    const s = picked && reschedule.slots[Number(picked.value)];
    if (!s) { dialogError("reschedule-error", "请选择新的上门时间。"); return; }
    const body = { date: s.date, period: s.period };
    const reason = $("reschedule-reason").value.trim();
    if (reason) body.reason = reason;
    const code = action.code;
    try {
      const job = await act(dialog, "reschedule-error", $("reschedule-submit"), () =>
        Staff.api("POST", `${API}/jobs/${encodeURIComponent(code)}/reschedule`, body));
      if (!job) return;
      const a = job.assignment;
      notify(`已改约：工单 ${job.code} 改到 ${a ? spokenWindow(a.day, a.period) : spokenWindow(s.date, s.period)}` +
        `${a ? `，${techName(a)} 上门` : ""}，请告知客户。`);
      dialog.close();
      // Now, not in the close event a task later: whoever reads the page
      // right after the dialog closes finds the focus back on the button.
      restoreFocus();
    } catch (e) {
      // A full day (409) or a window that has started (400): choose again.
      dialogError("reschedule-error", refusal(e));
      picked.focus();
    }
  }

  // 修改信息: only what the caller changed is sent.
  const CORRECT_FIELDS = [
    ["name", "correct-name"], ["phone", "correct-phone"], ["address", "correct-address"], ["problem", "correct-problem"],
  ];
  const CORRECT_ERRORS = {
    "customer.name": "correct-name", name: "correct-name", "customer.phone": "correct-phone", phone: "correct-phone",
    address: "correct-address", problem: "correct-problem",
  };

  function correctFieldError(id, message) {
    const input = $(id);
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    dialogError(id + "-error", message);
  }

  function openCorrect(job, opener) {
    const c = job.customer || {};
    setText($("correct-job"), jobLine(job));
    $("correct-name").value = c.name || "";
    $("correct-phone").value = c.phone || "";
    $("correct-address").value = job.address || "";
    $("correct-problem").value = job.problem || "";
    for (const [, id] of CORRECT_FIELDS) correctFieldError(id, "");
    dialogError("correct-error", "");
    openDialog($("correct-dialog"), job, opener, $("correct-name"));
  }

  function correctionOf(job) {
    const c = job.customer || {};
    const now = {
      name: $("correct-name").value.trim(),
      phone: phoneDigits($("correct-phone").value),
      address: $("correct-address").value.trim(),
      problem: $("correct-problem").value.trim(),
    };
    const was = { name: c.name || "", phone: c.phone || "", address: job.address || "", problem: job.problem || "" };
    const errors = [];
    const n = now.phone.replace("+", "").length;
    if (!now.name) errors.push(["correct-name", "请输入客户姓名"]);
    if (n < 5 || n > 20) errors.push(["correct-phone", n ? "电话应为 5–20 位数字" : "请输入联系电话"]);
    if (!now.address && was.address) errors.push(["correct-address", "请输入客户地址"]);
    const body = {};
    for (const [k] of CORRECT_FIELDS) if (now[k] !== was[k] && !(k === "address" && !now[k])) body[k] = now[k];
    return { body, errors };
  }

  async function submitCorrect(ev) {
    ev.preventDefault();
    const dialog = $("correct-dialog");
    for (const [, id] of CORRECT_FIELDS) correctFieldError(id, "");
    dialogError("correct-error", "");
    const { body, errors } = correctionOf(action.job);
    if (errors.length) {
      for (const [id, msg] of errors) correctFieldError(id, msg);
      dialogError("correct-error", errors.map((x) => x[1]).join("；"));
      $(errors[0][0]).focus();
      return;
    }
    if (!Object.keys(body).length) {
      dialogError("correct-error", "没有改动：请修改后再保存，或按“返回”。");
      return;
    }
    const code = action.code;
    try {
      const job = await act(dialog, "correct-error", $("correct-submit"), () =>
        Staff.api("PATCH", `${API}/jobs/${encodeURIComponent(code)}`, body));
      if (!job) return;
      const names = { name: "姓名", phone: "电话", address: "地址", problem: "故障描述" };
      notify(`已修改工单 ${job.code} 的${Object.keys(body).map((k) => names[k]).join("、")}。`);
      dialog.close();
      // Now, not in the close event a task later: whoever reads the page
      // right after the dialog closes finds the focus back on the button.
      restoreFocus();
    } catch (e) {
      dialogError("correct-error", refusal(e));
      let first = null;
      if (e instanceof Staff.ApiError && e.details && Array.isArray(e.details.fields)) {
        for (const f of e.details.fields) {
          const id = CORRECT_ERRORS[f.field];
          if (!id) continue;
          correctFieldError(id, "请核对此项");
          first = first || id;
        }
      }
      if (first) $(first).focus();
    }
  }

  // 取消工单: always with the caller's reason.
  function openCancel(job, opener) {
    setText($("cancel-job"), jobLine(job));
    $("cancel-reason").value = "";
    $("cancel-reason").removeAttribute("aria-invalid");
    dialogError("cancel-error", "");
    openDialog($("cancel-dialog"), job, opener, $("cancel-reason"));
  }

  async function submitCancel(ev) {
    ev.preventDefault();
    const dialog = $("cancel-dialog");
    const reason = $("cancel-reason").value.trim();
    if (!reason) {
      $("cancel-reason").setAttribute("aria-invalid", "true");
      dialogError("cancel-error", "请填写取消原因（客户为什么取消）。");
      $("cancel-reason").focus();
      return;
    }
    $("cancel-reason").removeAttribute("aria-invalid");
    const code = action.code;
    try {
      const job = await act(dialog, "cancel-error", $("cancel-submit"), () =>
        Staff.api("POST", `${API}/jobs/${encodeURIComponent(code)}/events`, { event: "cancelled", reason }));
      if (!job) return;
      notify(`工单 ${job.code} 已取消（${reason}）。`);
      dialog.close();
      // Now, not in the close event a task later: whoever reads the page
      // right after the dialog closes finds the focus back on the button.
      restoreFocus();
    } catch (e) {
      dialogError("cancel-error", refusal(e));
    }
  }

  function wireDialogs() {
    for (const [name, submit] of [["reschedule", submitReschedule], ["correct", submitCorrect], ["cancel", submitCancel]]) {
      const dialog = $(`${name}-dialog`);
      $(`${name}-form`).addEventListener("submit", submit);
      $(`${name}-back`).addEventListener("click", () => dialog.close());
      dialog.addEventListener("close", restoreFocus);
      // Esc while the request is on its way would lose its answer.
      dialog.addEventListener("cancel", (e) => { if (action.busy) e.preventDefault(); });
    }
    $("cancel-reason").addEventListener("input", () => {
      if ($("cancel-reason").value.trim()) {
        $("cancel-reason").removeAttribute("aria-invalid");
        dialogError("cancel-error", "");
      }
    });
    for (const [, id] of CORRECT_FIELDS) $(id).addEventListener("input", () => correctFieldError(id, ""));
  }

  function closeDialogs() {
    reschedule.seq++;
    action.opener = null;
    action.code = null;
    for (const d of document.querySelectorAll("dialog[open]")) d.close();
  }

  // --- address, stations and slots ----------------------------------------

  const schedulePreview = debounce(() => runPreview(), 300);

  function onAddressChanged() {
    state.candidates = [];
    state.division = 0;
    show($("division-choices"), false);
  }

  function chosenPoint() {
    if (state.division > 0 && state.candidates[state.division]) {
      const d = state.candidates[state.division];
      return { lat: d.lat, lon: d.lon, division: d };
    }
    return null;
  }

  function previewInputs() {
    const point = chosenPoint();
    return {
      address: $("address").value.trim(),
      product: $("product").value,
      kind: $("kind").value,
      point,
      sig: JSON.stringify([$("address").value.trim(), $("product").value, $("kind").value,
        point && [point.lat, point.lon]]),
    };
  }

  const NO_DIVISION = "没有找到这个地址所在的区县，请向来电人确认省、市、区名称。";
  /** The API could not place the address in any division. */
  function unknownAddress(e) {
    return e instanceof Staff.ApiError && e.code === "invalid_input" && Array.isArray(e.details) &&
      e.details.length > 0 && e.details.every((d) => d.field === "address");
  }

  /** Runs (or joins) the preview for the form as it is now. */
  function runPreview() {
    schedulePreview.cancel();
    const inp = previewInputs();
    if (inp.sig === state.previewSig && state.previewRun) return state.previewRun;
    state.previewSig = inp.sig;
    if (state.previewAbort) state.previewAbort.abort();
    if (!inp.address) {
      state.preview = null;
      state.previewRun = null;
      renderPreviewEmpty();
      return Promise.resolve(null);
    }
    const abort = new AbortController();
    state.previewAbort = abort;
    document.body.dataset.preview = "loading";
    setText($("division"), "正在解析地址…");
    $("division").classList.remove("warn", "is-error");
    setText($("nearby-status"), "正在查询附近网点…");
    $("nearby").setAttribute("aria-busy", "true");
    setText($("visit-status"), inp.kind === "onsite" && inp.product ? "正在查询可约时间…" : "");
    const run = (async () => {
      try {
        let p = null;
        if (state.intakeOptions && inp.product) {
          try {
            p = await fromIntakeOptions(inp, abort.signal);
          } catch (e) {
            if (!(e instanceof Staff.ApiError) || e.status !== 404) throw e;
            state.intakeOptions = false;
          }
        }
        if (!p) p = await fromLookups(inp, abort.signal);
        if (abort.signal.aborted) return null;
        state.preview = p;
        renderPreview(p, inp);
        document.body.dataset.preview = "ready";
        return p;
      } catch (e) {
        if (abort.signal.aborted || e.name === "AbortError") return null;
        sessionLost(e);
        state.preview = null;
        renderPreviewError(unknownAddress(e) ? new Error(NO_DIVISION) : e);
        document.body.dataset.preview = "error";
        return null;
      } finally {
        if (!abort.signal.aborted) $("nearby").removeAttribute("aria-busy");
      }
    })();
    state.previewRun = run;
    return run;
  }

  /** The one-call preview: division, stations with reasons, candidates, slots. */
  async function fromIntakeOptions(inp, signal) {
    const where = inp.point ? { lat: inp.point.lat, lon: inp.point.lon } : { address: inp.address };
    const r = await Staff.api("GET",
      `${API}/intake/options?${qs({ ...where, product: inp.product, kind: inp.kind })}`, undefined, { signal });
    const q = r.query || {};
    return {
      point: { lat: q.lat, lon: q.lon },
      division: inp.point ? inp.point.division : q.division,
      candidates: inp.point ? null : (q.candidates && q.candidates.length ? q.candidates : (q.division ? [q.division] : [])),
      ambiguous: !!q.ambiguous,
      conflicts: q.conflicts || [],
      remainder: q.remainder || null,
      coverage: r.coverage || null,
      // The station-level checks are repeated here, so a station the
      // server left unexplained is never shown as able to take the job.
      stations: (r.stations || []).map((s) => ({
        station: s.station,
        distance_m: s.distance_m,
        reason: s.reason || stationReason(s.station, s.distance_m, inp.kind, inp.product),
      })),
      techCandidates: r.candidates || [],
      rejected: r.rejected || [],
      slots: r.slots || [],
      carryIn: r.carry_in_stations
        ? r.carry_in_stations.map((s) => ({ station: s.station, distance_m: s.distance_m, reason: null }))
        : null,
    };
  }

  /** The same preview from the older endpoints: geocode, nearest, slots;
   *  the station-level reasons are worked out here. */
  async function fromLookups(inp, signal) {
    let point;
    let division = null;
    let candidates = null;
    let ambiguous = false;
    let conflicts = [];
    let remainder = null;
    if (inp.point) {
      point = { lat: inp.point.lat, lon: inp.point.lon };
      division = inp.point.division;
    } else {
      const g = await Staff.api("GET", `${API}/geocode?${qs({ q: inp.address })}`, undefined, { signal });
      if (!g.matches || !g.matches.length) throw new Error(NO_DIVISION);
      candidates = g.matches;
      division = g.matches[0];
      ambiguous = !!g.ambiguous;
      conflicts = g.conflicts || [];
      remainder = g.remainder || null;
      point = { lat: division.lat, lon: division.lon };
    }
    const at = { lat: point.lat, lon: point.lon };
    const get = (path) => Staff.api("GET", path, undefined, { signal });
    const [all, capable, slots] = await Promise.all([
      get(`${API}/stations/nearest?${qs({ ...at, k: 6 })}`),
      get(`${API}/stations/nearest?${qs({ ...at, k: 3, service: inp.kind, product: inp.product })}`)
        .catch((e) => { if (e.name === "AbortError") throw e; return { results: [] }; }),
      inp.kind === "onsite" && inp.product
        ? get(`${API}/slots?${qs({ ...at, product: inp.product, days: 3 })}`)
        : Promise.resolve(null),
    ]);
    const seen = new Set();
    const list = [];
    for (const r of [...all.results, ...capable.results]) {
      if (seen.has(r.station.id)) continue;
      seen.add(r.station.id);
      list.push(r);
    }
    list.sort((a, b) => a.distance_m - b.distance_m);
    // Older servers offer half-days that have begun (am from 09:00, pm from 13:00).
    const now = today();
    const hour = shanghaiHour();
    const offered = ((slots && slots.slots) || []).filter((s) =>
      s.date !== now || (s.period === "am" ? hour < 9 : hour < 13));
    const slotStations = new Set(offered.map((s) => s.station_id));
    const out = list.map((r) => {
      let reason = stationReason(r.station, r.distance_m, inp.kind, inp.product);
      if (!reason && slots && !slotStations.has(r.station.id)) reason = "no_slots";
      return { station: r.station, distance_m: r.distance_m, reason };
    });
    const anyOk = out.some((s) => !s.reason);
    return {
      point, division, candidates, ambiguous, conflicts, remainder,
      coverage: inp.kind === "carry_in" ? "carry_in"
        : anyOk ? "covered"
        : out.some((s) => s.reason === "no_slots") ? "no_free_technician" : "no_onsite_station",
      stations: out,
      techCandidates: [],
      rejected: [],
      slots: offered,
      carryIn: null,
    };
  }

  function stationReason(s, distance, kind, product) {
    const services = s.services || [];
    if (kind === "onsite") {
      if (!services.includes("onsite")) return "no_onsite";
      if (s.onsite_radius_km == null || distance > s.onsite_radius_km * 1000) return "out_of_radius";
    } else if (!services.includes("carry_in")) {
      return "no_carry_in";
    }
    if (product && !(s.products || []).includes(product)) return "no_product";
    return null;
  }

  function renderPreviewEmpty() {
    delete document.body.dataset.preview;
    clear($("division"));
    $("division").classList.remove("warn", "is-error");
    show($("division-choices"), false);
    setText($("nearby-status"), "输入地址后，这里显示最近的网点、距离、是否营业，以及不能接单的原因。");
    $("nearby").removeAttribute("aria-busy");
    clear($("station-list"));
    renderVisitChoices(null);
  }

  function renderPreviewError(e) {
    const d = $("division");
    setText(d, e.message);
    d.classList.add("is-error");
    setText($("nearby-status"), e.message);
    clear($("station-list"));
    renderVisitChoices(null);
  }

  function renderPreview(p, inp) {
    // Division line and, for an address, the candidates to choose from.
    if (p.candidates) {
      state.candidates = p.candidates;
      state.division = 0;
    }
    const d = $("division");
    clear(d);
    d.classList.remove("warn", "is-error");
    const div = p.division;
    const first = state.candidates[0];
    const unsure = !inp.point && first && (p.ambiguous || !(first.confidence >= 0.5));
    const conflicted = !inp.point && !!(p.conflicts && p.conflicts.length);
    if (div) {
      d.append(el("span", {},
        "解析为 ",
        el("strong", {}, divisionName(div)),
        div.formerly ? el("span", { class: "en" }, `（原称 ${div.formerly}）`) : null,
        // A contradicting county is not street detail: the warning names it.
        p.remainder && !conflicted ? el("span", { class: "en" }, ` · 详细地址 ${p.remainder}`) : null));
      if (unsure && !conflicted) {
        d.classList.add("warn");
        d.append(el("span", { class: "confirm" },
          state.candidates.length > 1 ? " · 有多个可能，请与来电人确认" : " · 把握不大，请与来电人确认"));
      }
      // A county the city said does not hold: the caller misspoke or moved.
      if (conflicted) {
        d.classList.add("warn");
        d.append(el("span", { class: "confirm", "data-test": "division-conflict" },
          ` · “${p.conflicts.join("、")}”不在${divisionName(div)}，请核实`));
      }
    }
    if (p.candidates) renderDivisionChoices(unsure && state.candidates.length > 1);

    renderStations(p, inp);
    renderVisitChoices(p, inp);
  }

  function renderDivisionChoices(on) {
    const list = $("division-list");
    clear(list);
    show($("division-choices"), on);
    if (!on) return;
    state.candidates.slice(0, 6).forEach((c, i) => {
      const id = `division-${i}`;
      const input = el("input", {
        type: "radio", name: "division", id, value: String(i), checked: i === state.division,
        onchange: () => { state.division = i; runPreview(); },
      });
      list.append(el("div", { class: "choice" }, input,
        el("label", { for: id }, divisionName(c),
          el("span", { class: "en" }, ` ${LEVEL[c.level] || c.level || ""}`),
          c.formerly ? el("span", { class: "en" }, `（原称 ${c.formerly}）`) : null)));
    });
  }

  function renderStations(p, inp) {
    const list = $("station-list");
    clear(list);
    const status = $("nearby-status");
    status.classList.remove("is-error");
    const ok = p.stations.filter((s) => !s.reason);
    const where = divisionName(p.division) || "该地址";
    clear(status);
    if (!p.stations.length) {
      status.append("附近没有网点。");
      return;
    }
    status.append(`${where} 附近 ${p.stations.length} 个网点，${ok.length} 个可以${inp.kind === "onsite" ? "上门" : "送修"}` +
      (inp.product ? "" : "（未选产品，暂不判断能否维修）") + "：");
    if (inp.kind === "onsite" && !ok.length) status.classList.add("is-error");
    const techsOk = groupBy(p.techCandidates, "station_id");
    const techsNo = groupBy(p.rejected.filter((r) => r.technician_id != null), "station_id");
    const slotTechs = groupBy(p.slots, "station_id");
    for (const s of p.stations) {
      const st = s.station;
      rememberStation(st);
      const li = el("li", { class: "station " + (s.reason ? "is-out" : "is-ok"), dataset: { id: st.id } });
      li.append(el("div", { class: "st-head" },
        el("span", { class: "st-name" }, st.name),
        el("span", { class: "st-dist" }, Staff.km(s.distance_m))));
      const open = st.open_now
        ? el("span", { class: "badge open" }, "营业中")
        : el("span", { class: "badge closed" }, st.next_open_at ? `休息 · ${Staff.time(st.next_open_at)} 开门` : "休息中");
      li.append(el("div", { class: "st-meta" }, open, " ",
        (st.services || []).map((x) => SERVICE[x] || x).join("·"),
        st.onsite_radius_km ? ` · 上门范围 ${st.onsite_radius_km} km` : "",
        st.opening_hours ? ` · ${hours(st.opening_hours)}` : "",
        st.phone ? [" · ", el("span", { class: "nowrap" }, `☎ ${st.phone}`)] : ""));
      if (s.reason) {
        li.append(el("p", { class: "verdict no" }, "不能接单：", REASON[s.reason] || s.reason));
      } else {
        const techs = techsOk.get(st.id) || [];
        const fromSlots = uniqueBy(slotTechs.get(st.id) || [], "technician_id");
        let text = inp.kind === "onsite" ? "可以上门" : "可以送修";
        if (techs.length) {
          text += "：" + techs.map((t) => `${techName(t)}（已约 ${t.booked}/${t.daily_capacity}）`).join("、");
          if (techs[0].eta_minutes != null) text += `，车程约 ${techs[0].eta_minutes} 分钟`;
        } else if (fromSlots.length) {
          text += "：" + fromSlots.map((t) => techName(t)).join("、") +
            `，车程约 ${fromSlots[0].eta_minutes} 分钟`;
        }
        li.append(el("p", { class: "verdict ok" }, text));
      }
      for (const r of techsNo.get(st.id) || []) {
        li.append(el("p", { class: "verdict tech-no" }, `技师 #${r.technician_id} 不能接：${REASON[r.reason] || r.reason}`));
      }
      list.append(li);
    }
  }

  function groupBy(items, key) {
    const m = new Map();
    for (const x of items || []) {
      if (!m.has(x[key])) m.set(x[key], []);
      m.get(x[key]).push(x);
    }
    return m;
  }
  function uniqueBy(items, key) {
    const seen = new Set();
    return items.filter((x) => (seen.has(x[key]) ? false : (seen.add(x[key]), true)));
  }

  /** Slots (on-site) or receiving stations (carry-in), the first chosen. */
  function renderVisitChoices(p, inp) {
    const slotBox = $("slot-choices");
    const stationBox = $("station-choices");
    const status = $("visit-status");
    clear($("slot-list"));
    clear($("station-choice-list"));
    setText(status, "");
    status.classList.remove("warn");
    state.slots = [];
    state.carryStations = [];
    show(slotBox, false);
    show(stationBox, false);
    if (!p) return;
    if (inp.kind === "onsite" && p.coverage && p.coverage !== "covered" && inp.product) {
      status.classList.add("warn");
      status.append(p.coverage === "no_free_technician"
        ? "附近网点的技师近几天已约满或不在岗：仍可创建工单由调度安排，或建议客户送修。"
        : "附近没有能上门维修该产品的网点，建议改为送修。", " ",
      el("button", { type: "button", class: "link", onclick: () => {
        $("kind").value = "carry_in"; runPreview(); $("kind").focus();
      } }, "改为送修"));
      return;
    }
    if (inp.kind === "onsite") {
      if (!inp.product) { setText(status, "选择产品后显示可约的上门时间。"); return; }
      // One option per half-day: the server books the best technician that day.
      const seen = new Set();
      for (const s of p.slots) {
        const k = s.date + s.period;
        if (seen.has(k)) continue;
        seen.add(k);
        state.slots.push(s);
      }
      state.slots = state.slots.slice(0, 6);
      state.slot = 0;
      if (!state.slots.length) {
        status.classList.add("warn");
        setText(status, "近 3 天没有可约的上门时间：工单创建后由调度安排，请告知客户稍后会有电话联系。");
        return;
      }
      state.slots.forEach((s, i) => {
        const id = `slot-${i}`;
        $("slot-list").append(el("div", { class: "chip" },
          el("input", { type: "radio", name: "slot", id, value: String(i), checked: i === 0,
            class: "sr-only", onchange: () => { state.slot = i; describeSlot(); } }),
          el("label", { for: id },
            el("span", { class: "chip-day" }, dayName(s.date)),
            el("span", { class: "chip-period" }, PERIOD[s.period] || s.period))));
      });
      show(slotBox, true);
      describeSlot();
    } else {
      const ok = (p.carryIn || p.stations.filter((s) => !s.reason)).slice(0, 4);
      state.carryStations = ok;
      state.carryStation = 0;
      if (!ok.length) {
        status.classList.add("warn");
        setText(status, "附近没有能送修该产品的网点。");
        return;
      }
      ok.forEach((s, i) => {
        const id = `carry-${i}`;
        $("station-choice-list").append(el("div", { class: "choice" },
          el("input", { type: "radio", name: "carry-station", id, value: String(i), checked: i === 0,
            onchange: () => { state.carryStation = i; } }),
          el("label", { for: id }, el("strong", {}, s.station.name), ` ${Staff.km(s.distance_m)}`,
            el("span", { class: "en" }, ` ${s.station.address || ""}${s.station.open_now ? " · 营业中" : " · 休息中"}`))));
      });
      show(stationBox, true);
    }
  }

  /** 今天 / 明天 / 12月4日周五 for a slot's day. */
  function dayName(ymd) {
    const t = today();
    if (ymd === t) return "今天";
    if (daysBetween(t, ymd) === 1) return "明天";
    return dayLabel(ymd);
  }

  function describeSlot() {
    const s = state.slots[state.slot];
    const note = $("slot-note");
    if (!s) { setText(note, ""); return; }
    clear(note);
    note.append(`${dayName(s.date)}（${dayLabel(s.date)}）${PERIOD[s.period] || ""}：`, stationName(s.station_id),
      ` 派技师上门，距客户 ${Staff.km(s.distance_m)}，车程约 ${s.eta_minutes} 分钟。`);
  }

  // --- warranty -------------------------------------------------------------

  function warrantyInput() {
    return {
      request: $("request").value,
      damage: $("damage").value,
      item: {
        resalable: $("item-resalable").checked,
        packaging_complete: $("item-packaging").checked,
        custom_made: $("item-custom").checked,
        special_price: $("item-special").checked,
      },
    };
  }

  function describeConditions() {
    const w = warrantyInput();
    const parts = [w.damage === "customer" ? "人为损坏" : "非人为损坏",
      w.item.packaging_complete ? "包装配件齐全" : "包装配件不全"];
    if (w.item.resalable) parts.push("未拆封");
    if (w.item.custom_made) parts.push("定制机");
    if (w.item.special_price) parts.push("特价机");
    setText($("conditions-summary"), parts.join(" · "));
  }

  function updateDateHint() {
    const raw = $("purchase-date").value;
    const d = parseDate(raw);
    const hint = $("purchase-date-hint");
    if (!raw.trim()) { setText(hint, ""); return null; }
    if (!d) { setText(hint, "格式如 2026-10-23 或 20261023"); return null; }
    const n = daysBetween(d, today());
    setText(hint, n < 0 ? "晚于今天，请核对" : "");
    return n < 0 ? null : d;
  }

  const checkWarranty = debounce(async () => {
    const box = $("warranty");
    const date = updateDateHint();
    const seq = ++state.warrantySeq;
    if (!date) { show(box, false); delete document.body.dataset.warranty; return; }
    box.className = "callout loading";
    show(box, true);
    setText($("warranty-decision"), "判定中…");
    setText($("warranty-days"), "");
    clear($("warranty-reason"));
    try {
      const w = await Staff.api("POST", `${API}/warranty/check`, { purchase_date: date, ...warrantyInput() });
      if (seq !== state.warrantySeq) return;
      box.className = "callout decision-" + w.decision;
      setText($("warranty-decision"), Staff.WARRANTY[w.decision] || w.decision);
      setText($("warranty-days"), w.days_since_purchase != null ? `已购买 ${w.days_since_purchase} 天` : "");
      setText($("warranty-reason"), chinese(w.reason));
      document.body.dataset.warranty = w.decision;
    } catch (e) {
      if (seq !== state.warrantySeq) return;
      sessionLost(e);
      box.className = "callout is-error";
      setText($("warranty-decision"), "无法判定");
      setText($("warranty-reason"), e.message);
      document.body.dataset.warranty = "error";
    }
  }, 300);

  // --- creating the job -----------------------------------------------------

  function validate() {
    const errors = [];
    const phone = phoneDigits($("caller-phone").value);
    const n = phone.replace("+", "").length;
    if (n < 5 || n > 20) errors.push(["caller-phone", n ? "来电号码应为 5–20 位数字" : "请输入来电号码"]);
    if (!$("customer-name").value.trim()) errors.push(["customer-name", "请输入客户姓名"]);
    if (!$("address").value.trim()) errors.push(["address", "请输入客户地址"]);
    if (!$("product").value) errors.push(["product", "请选择产品"]);
    const raw = $("purchase-date").value;
    const d = parseDate(raw);
    if (!raw.trim()) errors.push(["purchase-date", "请输入购买日期"]);
    else if (!d) errors.push(["purchase-date", "购买日期格式应为 2026-10-23"]);
    else if (d > today()) errors.push(["purchase-date", "购买日期不能晚于今天"]);
    else $("purchase-date").value = d;
    return errors;
  }

  const REQUIRED = ["caller-phone", "customer-name", "address", "product", "purchase-date"];

  /** Enter in a field: create the job when everything needed is there,
   *  else go on to the next field still empty (a caller is talking). */
  function enterFrom(input) {
    const missing = new Set(validate().map((x) => x[0]));
    if (!missing.size) { submit(); return; }
    const at = REQUIRED.indexOf(input.id);
    const next = REQUIRED.slice(at + 1).find((id) => missing.has(id)) ||
      REQUIRED.find((id) => missing.has(id));
    if (!next) return;
    if (REQUIRED.indexOf(next) <= at) {
      // Going back: say why.
      const err = validate().find((x) => x[0] === next);
      if (err) fieldError(next, err[1]);
    }
    $(next).focus();
  }

  function buildBody() {
    const kind = $("kind").value;
    const body = {
      kind,
      customer: { name: $("customer-name").value.trim(), phone: phoneDigits($("caller-phone").value) },
      address: $("address").value.trim(),
      product: $("product").value,
      purchase_date: parseDate($("purchase-date").value),
      ...warrantyInput(),
      problem: $("problem").value.trim(),
    };
    const point = chosenPoint();
    if (point) { body.lat = point.lat; body.lon = point.lon; }
    if (kind === "onsite" && state.preview) {
      const s = state.slots[state.slot];
      if (s) body.slot = { date: s.date, period: s.period };
    }
    if (kind === "carry_in" && state.carryStation > 0) {
      const s = state.carryStations[state.carryStation];
      if (s) body.station_id = s.station.id;
    }
    return body;
  }

  async function submit() {
    if (state.submitting || state.created) return;
    const err = $("create-error");
    show(err, false);
    clearFieldErrors();
    const errors = validate();
    if (errors.length) {
      for (const [id, msg] of errors) fieldError(id, msg);
      setText(err, `还缺 ${errors.length} 项：` + errors.map((e) => e[1]).join("；"));
      show(err, true);
      $(errors[0][0]).focus();
      return;
    }
    state.submitting = true;
    const button = $("create-job");
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    setText(button, "正在创建…");
    try {
      // The earliest slot is part of the request: wait for the preview of
      // the form as it is (a few seconds at most).
      await Promise.race([runPreview(), new Promise((r) => setTimeout(r, 8000))]);
      const body = buildBody();
      const job = await Staff.api("POST", `${API}/jobs`, body, { idempotencyKey: state.key });
      showCreated(job);
    } catch (e) {
      setText(err, unknownAddress(e) ? NO_DIVISION : e.message);
      show(err, true);
      if (e instanceof Staff.ApiError && Array.isArray(e.details)) {
        for (const f of e.details) {
          const id = FIELD[f.field] || FIELD[String(f.field).split(".")[0]];
          if (id && $(id + "-error")) fieldError(id, "请核对此项");
        }
      }
      sessionLost(e);
    } finally {
      state.submitting = false;
      button.disabled = !!state.created;
      button.removeAttribute("aria-busy");
      setText(button, "创建工单");
    }
  }

  function showCreated(job) {
    state.created = job;
    $("intake-fields").disabled = true;
    show($("submit-row"), false);
    const reuse = $("reuse-caller");
    if (reuse) reuse.remove();
    setText($("job-code"), job.code);
    setText($("result-due"), `${Staff.time(job.due_at)} 前修复`);
    const visit = $("result-visit");
    clear(visit);
    const a = job.assignment;
    if (job.kind === "carry_in") {
      setText($("result-visit-label"), "送修网点");
      visit.append(stationName(job.station_id));
      station(job.station_id).then((s) => {
        if (s) {
          visit.append(el("span", { class: "en" }, ` ${s.address || ""} · `,
            el("span", { class: "nowrap" }, s.phone ? `☎ ${s.phone}` : ""),
            s.opening_hours ? ` · 营业时间 ${hours(s.opening_hours)}` : ""));
        }
      });
    } else if (a) {
      setText($("result-visit-label"), "上门安排");
      visit.append(`${dayName(a.day)}${a.day && dayName(a.day) !== dayLabel(a.day) ? `（${dayLabel(a.day)}）` : ""} ${PERIOD[a.period] || ""} · `, stationName(a.station_id),
        ` · ${techName(a)}` + (a.eta_minutes != null ? ` · 车程约 ${a.eta_minutes} 分钟` : ""));
    } else {
      setText($("result-visit-label"), "上门安排");
      visit.append("暂未派工：调度会尽快安排技师并联系客户。");
      // Where the item could be brought instead (newer servers say).
      const alt = (job.carry_in_stations || [])[0];
      if (alt && alt.station) {
        visit.append(el("span", { class: "alt-station" }, "也可建议客户送修到 ",
          el("strong", {}, alt.station.name), ` ${Staff.km(alt.distance_m)}`,
          alt.station.address ? ` · ${alt.station.address}` : "",
          alt.station.phone ? [" · ", el("span", { class: "nowrap" }, `☎ ${alt.station.phone}`)] : ""));
      }
    }
    const w = job.warranty || {};
    setText($("result-warranty"), `${Staff.WARRANTY[w.decision] || w.decision || "—"} · ${chinese(w.reason)}`);
    const last4 = (job.customer && job.customer.phone || "").slice(-4);
    setText($("result-track"), `请向客户读出工单号，客户可用工单号和手机尾号 ${last4} 查询进度。`);
    const note = $("result-note");
    show(note, false);
    if (job.first_visit_due_at && job.kind === "onsite") {
      setText(note, `首次上门时限：${Staff.time(job.first_visit_due_at)}`);
      show(note, true);
    }
    show($("result"), true);
    document.body.dataset.created = job.code;
    // Focus the code to read out; scroll only the form's own column (the
    // page itself does not scroll on a desk screen).
    document.querySelector(".intake").scrollTop = 0;
    $("result").focus({ preventScroll: true });
    if (window.matchMedia("(max-width: 900px)").matches) $("result").scrollIntoView({ block: "start" });
    loadHistory();
  }

  /** A clean form and a new Idempotency-Key for the next caller. */
  function newCall() {
    if (state.submitting) return;
    state.key = Staff.newKey();
    state.created = null;
    state.preview = null;
    state.previewSig = null;
    state.previewRun = null;
    if (state.previewAbort) state.previewAbort.abort();
    state.candidates = [];
    state.division = 0;
    state.phoneSeq++;
    state.warrantySeq++;
    lookupPhone.cancel();
    schedulePreview.cancel();
    checkWarranty.cancel();
    closeDialogs();
    notify("");
    $("intake").reset();
    $("intake-fields").disabled = false;
    show($("submit-row"), true);
    $("create-job").disabled = false;
    show($("result"), false);
    show($("create-error"), false);
    show($("warranty"), false);
    clearFieldErrors();
    clear($("caller-summary"));
    setText($("purchase-date-hint"), "");
    renderHistory([], null);
    setText($("history-status"), "输入来电号码后，这里显示该号码的历史工单。");
    $("history-status").classList.remove("is-error");
    renderPreviewEmpty();
    describeConditions();
    for (const k of ["created", "warranty", "historyFor", "preview"]) delete document.body.dataset[k];
    document.querySelector(".intake").scrollTop = 0;
    window.scrollTo(0, 0);
    $("caller-phone").focus();
  }

  // --- wiring ---------------------------------------------------------------

  function wire() {
    const form = $("intake");
    form.addEventListener("submit", (e) => { e.preventDefault(); submit(); });
    form.addEventListener("keydown", (e) => {
      if (e.key !== "Enter" || e.isComposing || e.altKey || e.shiftKey) return;
      if (e.ctrlKey || e.metaKey) { e.preventDefault(); submit(); return; }
      const t = e.target;
      const field = (t.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(t.type)) ||
        t.tagName === "SELECT";
      if (field) { e.preventDefault(); enterFrom(t); }
    });
    document.addEventListener("keydown", (e) => {
      if (e.altKey && e.code === "KeyN") { e.preventDefault(); newCall(); }
    });
    for (const id of REQUIRED) $(id).addEventListener("input", () => fieldError(id, ""));
    $("product").addEventListener("change", () => fieldError("product", ""));
    $("caller-phone").addEventListener("input", () => lookupPhone());
    $("address").addEventListener("input", () => { onAddressChanged(); schedulePreview(); });
    $("product").addEventListener("change", () => runPreview());
    $("kind").addEventListener("change", () => runPreview());
    $("purchase-date").addEventListener("input", () => checkWarranty());
    $("purchase-date").addEventListener("blur", () => {
      const d = parseDate($("purchase-date").value);
      if (d) $("purchase-date").value = d;
    });
    for (const id of ["request", "damage", "item-packaging", "item-resalable", "item-custom", "item-special"]) {
      $(id).addEventListener("change", () => { describeConditions(); checkWarranty(); });
    }
    $("next-call").addEventListener("click", newCall);
    $("new-call").addEventListener("click", newCall);
    $("code-lookup").addEventListener("submit", lookupCode);
    wireDialogs();
    describeConditions();
  }

  let wired = false;
  Staff.session(async () => {
    // Opening jobs needs the agent (or dispatcher) role; the warranty check
    // is the cheapest call that asks for it.
    await Staff.api("POST", `${API}/warranty/check`, { purchase_date: today() });
    if (!wired) { wire(); wired = true; }
    show($("new-call"), true);
    show($("logout"), true);
    document.body.dataset.ready = "true";
    $("caller-phone").focus();
  });
})();
