// The technician's day (/tech): today's and tomorrow's visits in driving
// order, each with the customer, the way there and the next step
// (出发 → 到达 → 完成维修). Steps taken without signal wait in localStorage,
// show on the page as already done, and go out in order once the
// connection is back; each carries its own Idempotency-Key, so sending one
// again after a lost answer changes nothing.
//
// Test hook: every request goes through `request()`, which fails as if
// there were no network while `window.__techOffline === true` (headless
// Chromium cannot drop its connection on demand). Clear it and dispatch an
// `online` event to come back.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const el = Staff.el;
  const API = "/api/v1";

  const PERIOD = { am: "上午", pm: "下午" };
  const ACTION = { en_route: "出发", on_site: "到达", repaired: "完成维修" };
  /** The step each status allows a technician; the event names the status it leads to. */
  const NEXT = { assigned: "en_route", en_route: "on_site", on_site: "repaired" };
  const SLA_WORD = { warning: "快到期", breached: "已超时" };
  const NOTE_MAX = 500;
  // A second tap on the same spot must not take the step after.
  const COOLDOWN_MS = 800;
  const RETRY_FIRST_MS = 5000;
  const RETRY_MAX_MS = 60000;
  const REFRESH_MS = 120000;
  /** Who the token is, kept in the tab for opening the page again without signal. */
  const ME = "repairnet.tech.me";

  const S = {
    tech: null,
    days: { today: null, tomorrow: null },
    loadedAt: null,
    fromCache: false,
    tab: "today",
    columns: false,
    flushing: false,
    retryTimer: null,
    retryDelay: RETRY_FIRST_MS,
    net: "online",          // online | offline | server
    refused: [],            // {id, text}
    notes: new Map(),       // job id -> the repair note being typed
    cooldown: new Map(),    // job id -> until (ms)
    cards: new Map(),       // `${day}:${job id}` -> {sig, node}
    done: {},               // date -> {job id: job} finished while this tab was open
    memoryQueue: null,      // the queue, when localStorage refuses it
    lastError: null,
  };

  // --- the network, and the test hook ---------------------------------------

  function offline() {
    return window.__techOffline === true || navigator.onLine === false;
  }

  /** Every call of the page; a network failure is an ApiError with status 0. */
  function request(method, path, body, opts) {
    if (offline()) {
      return Promise.reject(new Staff.ApiError(0, { error: { code: "unavailable", message: "offline" } }));
    }
    return Staff.api(method, path, body, opts);
  }

  /** Not delivered, or the server could not take it now: send again later. */
  function retryable(e) {
    return !(e instanceof Staff.ApiError) || e.status === 0 || e.status === 408 ||
      e.status === 429 || e.status >= 500;
  }

  // --- small helpers --------------------------------------------------------

  function show(node, on) { node.hidden = !on; }

  /** `YYYY-MM-DD` plus `n` days. */
  function addDays(ymd, n) {
    const d = new Date(ymd + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }

  const clock = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false,
  });
  function hhmm(d) { return clock.format(d instanceof Date ? d : new Date(d)); }

  /** 13912345678 as `139 1234 5678`, easier to read out. */
  function spacedPhone(p) {
    const t = String(p || "");
    return /^1\d{10}$/.test(t) ? `${t.slice(0, 3)} ${t.slice(3, 7)} ${t.slice(7)}` : t;
  }

  /** The Chinese sentence of a reason that carries Chinese then English. */
  function chinese(reason) {
    if (!reason) return "";
    const m = reason.match(/^(.*?[。！？])\s*[A-Za-z]/);
    return m ? m[1] : reason;
  }

  function minutes(m) {
    if (m == null) return "—";
    const v = Math.round(m);
    return v < 60 ? `${v} 分钟` : `${Math.floor(v / 60)} 小时 ${v % 60} 分钟`;
  }
  function km(k) { return k == null ? "—" : `${Number(k).toFixed(k < 10 ? 1 : 0)} km`; }

  // --- the queue of steps not yet accepted -----------------------------------

  function queueKey() { return `repairnet.tech.queue.${S.tech}`; }
  /** Read afresh each time: another tab of the page may have sent some. */
  function queue() {
    if (S.memoryQueue) return S.memoryQueue.slice();
    try {
      const q = JSON.parse(localStorage.getItem(queueKey()) || "[]");
      return Array.isArray(q) ? q : [];
    } catch (_) {
      return [];
    }
  }
  /** Without localStorage (a private window, a full disk) the steps still
   *  wait, for as long as the page stays open. */
  function saveQueue(q) {
    if (!S.memoryQueue) {
      try {
        localStorage.setItem(queueKey(), JSON.stringify(q));
        return;
      } catch (_) { /* fall through */ }
    }
    S.memoryQueue = q.slice();
  }
  function drop(key) { saveQueue(queue().filter((a) => a.key !== key)); }
  function pendingFor(jobId) { return queue().filter((a) => a.job === jobId); }

  /** What the page shows: the server's status with the waiting steps applied. */
  function shownStatus(job, pending) {
    return pending.length ? pending[pending.length - 1].event : job.status;
  }

  /** Records a step; it shows at once and goes out when it can. */
  function take(job, event) {
    const a = {
      key: Staff.newKey(), job: job.id, code: job.code,
      customer: job.customer && job.customer.name, event, at: new Date().toISOString(),
    };
    if (event === "repaired") {
      const note = (S.notes.get(job.id) || "").trim().slice(0, NOTE_MAX);
      if (note) a.note = note;
    }
    const q = queue();
    q.push(a);
    saveQueue(q);
    if (event === "repaired") S.notes.delete(job.id);
    S.cooldown.set(job.id, Date.now() + COOLDOWN_MS);
    setTimeout(() => {
      for (const b of document.querySelectorAll(`.visit[data-id="${job.id}"] [data-action]`)) b.disabled = false;
    }, COOLDOWN_MS);
    render();
    flush();
  }

  /** Why the server would not take a step, as the technician needs to hear it. */
  function refusal(a, e) {
    let why;
    if (e.status === 404) why = "这个工单已不在您的名下（可能已转派给别人）。";
    else if (e.code === "transition_not_allowed") why = "工单状态已经变了（可能调度已处理或已暂停）。";
    else if (e.status === 403) why = "您的令牌不能执行这个操作。";
    else why = e.message;
    return `${a.code}${a.customer ? "（" + a.customer + "）" : ""}的「${ACTION[a.event] || a.event}」没有被接受：${why}已从待发送中移除，页面已更新为服务器上的最新状态。`;
  }

  let refusedSeq = 0;

  /** Sends the waiting steps, oldest first, one at a time. */
  async function flush() {
    // Logged out (a revoked token): the steps wait for the next log-in.
    if (S.flushing || S.tech == null || !Staff.token()) return;
    S.flushing = true;
    clearTimeout(S.retryTimer);
    let stuck = false;
    let lost = false;
    let refusedAny = false;
    try {
      for (;;) {
        const a = queue()[0];
        if (!a) break;
        const body = { event: a.event };
        if (a.note) body.note = a.note;
        try {
          const job = await request("POST", `${API}/jobs/${encodeURIComponent(a.job)}/events`, body,
            { idempotencyKey: a.key });
          drop(a.key);
          replaceJob(job);
          setNet("online");
        } catch (e) {
          if (e instanceof Staff.ApiError && e.status === 401) { sessionLost(e); lost = true; break; }
          if (retryable(e)) {
            setNet(e instanceof Staff.ApiError && e.status >= 500 ? "server" : "offline");
            stuck = true;
            break;
          }
          drop(a.key);
          for (const d of Object.values(S.done)) delete d[a.job];
          S.refused.push({ id: ++refusedSeq, text: refusal(a, e) });
          refusedAny = true;
          setNet("online");
        }
        render();
      }
    } finally {
      S.flushing = false;
    }
    if (lost) return;
    if (stuck && queue().length) {
      S.retryTimer = setTimeout(flush, S.retryDelay);
      S.retryDelay = Math.min(S.retryDelay * 2, RETRY_MAX_MS);
    } else {
      S.retryDelay = RETRY_FIRST_MS;
    }
    render();
    if (refusedAny) load().catch(() => {});
  }

  /** Puts the server's answer for a job in place of what the page had. */
  function replaceJob(job) {
    for (const d of Object.values(S.days)) {
      if (!d) continue;
      for (const v of d.visits) if (v.job.id === job.id) v.job = job;
    }
    saveCache();
  }

  // --- loading the days -----------------------------------------------------

  function cacheKey() { return `repairnet.tech.days.${S.tech}`; }
  function saveCache() {
    if (!S.days.today) return;
    try {
      sessionStorage.setItem(cacheKey(), JSON.stringify({ at: S.loadedAt, days: S.days, done: S.done }));
    } catch (_) { /* a full storage only costs the offline copy */ }
  }
  function readCache() {
    try {
      return JSON.parse(sessionStorage.getItem(cacheKey()) || "null");
    } catch (_) {
      return null;
    }
  }
  function restoreCache() {
    const c = readCache();
    if (!c || !c.days || !c.days.today) return false;
    S.days = c.days;
    S.loadedAt = c.at ? new Date(c.at) : null;
    S.fromCache = true;
    return true;
  }

  /** Today (the server's business day) and the day after. A network
   *  failure keeps what is shown (or the copy kept in this tab). */
  async function load() {
    if (!Staff.token()) return;
    try {
      const today = await request("GET", `${API}/technicians/${S.tech}/day`);
      const tomorrow = await request("GET", `${API}/technicians/${S.tech}/day?date=${addDays(today.date, 1)}`);
      S.days = { today, tomorrow };
      for (const date of Object.keys(S.done)) {
        if (date !== today.date && date !== tomorrow.date) delete S.done[date];
      }
      S.loadedAt = new Date();
      S.fromCache = false;
      S.lastError = null;
      saveCache();
      setNet("online");
    } catch (e) {
      if (e instanceof Staff.ApiError && e.status === 401) { sessionLost(e); throw e; }
      if (!retryable(e)) { S.lastError = e.message; render(); throw e; }
      setNet(e instanceof Staff.ApiError && e.status >= 500 ? "server" : "offline");
      if (!S.days.today && !restoreCache()) S.lastError = "网络不通，暂时无法加载行程；联网后会自动加载。";
    }
    render();
  }

  // --- rendering ------------------------------------------------------------

  function setNet(state) {
    S.net = state;
    renderNet();
  }

  function renderNet() {
    const p = $("net");
    const waiting = queue().length;
    let text;
    if (S.net === "offline") {
      text = waiting ? "离线：操作已保存在手机上，联网后自动发送" : "离线：暂时连不上服务器";
    } else if (S.net === "server") {
      text = "服务器暂时无法处理，稍后自动重试";
    } else {
      text = S.loadedAt ? `在线 · ${hhmm(S.loadedAt)} 更新` : "在线";
    }
    if (S.fromCache && S.loadedAt) text += `（显示的是 ${hhmm(S.loadedAt)} 保存的行程）`;
    p.dataset.state = S.net;
    $("net-text").textContent = text;
  }

  function renderQueue() {
    const q = queue();
    const box = $("queue");
    box.dataset.count = String(q.length);
    show(box, q.length > 0);
    $("queue-count").textContent = `${q.length} 项操作待发送`;
    $("queue-list").replaceChildren(...q.map((a) => el("li", { dataset: { key: a.key } },
      el("span", { class: "q-action" }, ACTION[a.event] || a.event),
      " ", el("span", { class: "q-job" }, a.customer ? `${a.customer} · ${a.code}` : a.code),
      " ", el("span", { class: "q-time" }, `${hhmm(a.at)} 记录`))));
  }

  function renderRefused() {
    const box = $("refused");
    const have = new Set(Array.from(box.children, (n) => Number(n.dataset.id)));
    const want = new Set(S.refused.map((r) => r.id));
    for (const n of Array.from(box.children)) if (!want.has(Number(n.dataset.id))) n.remove();
    for (const r of S.refused) {
      if (have.has(r.id)) continue;
      box.append(el("div", { class: "refusal", dataset: { id: r.id } },
        el("p", null, r.text),
        el("button", {
          type: "button", class: "secondary",
          onclick: () => { S.refused = S.refused.filter((x) => x.id !== r.id); renderRefused(); },
        }, "知道了")));
    }
  }

  function lastNote(job) {
    const evs = (job.events || []).filter((e) => e.event === "repaired");
    const last = evs[evs.length - 1];
    return last && last.data && last.data.note;
  }

  function actions(job, status, pending) {
    const out = [];
    const next = NEXT[status];
    const cooling = (S.cooldown.get(job.id) || 0) > Date.now();
    if (next === "repaired") {
      const id = `note-${job.id}`;
      const ta = el("textarea", {
        id, class: "note-input", name: "note", rows: 3, maxlength: NOTE_MAX,
        placeholder: "如 更换主板，开机测试正常", "data-testid": "repair-note",
      });
      ta.value = S.notes.get(job.id) || "";
      ta.addEventListener("input", () => S.notes.set(job.id, ta.value));
      out.push(el("label", { for: id, class: "note-label" }, "维修说明（选填，最多 500 字）"), ta);
    }
    if (next) {
      out.push(el("button", {
        type: "button", class: "act-button act-" + next, "data-action": next,
        "data-testid": "act-" + next, disabled: cooling,
        onclick: () => take(job, next),
      }, ACTION[next]));
      if (next === "en_route") out.push(el("p", { class: "act-hint" }, "客户会收到您已出发的短信。"));
    } else if (status === "on_hold") {
      out.push(el("p", { class: "act-hint" }, "工单已暂停，请等调度通知后再上门。"));
    }
    if (pending.length) {
      out.push(el("p", { class: "pending-line" },
        pending.map((a) => `「${ACTION[a.event] || a.event}」`).join(""),
        `待发送（${hhmm(pending[0].at)} 记录），联网后自动发送`));
    }
    return el("div", { class: "act" }, out);
  }

  /** One open visit; `seq` is its place among the visits still to do,
   *  `first` whether the server's route starts with it (from the station). */
  function card(visit, seq, first, day) {
    const job = visit.job;
    const pending = pendingFor(job.id);
    const status = shownStatus(job, pending);
    const a = job.assignment || {};
    const nav = visit.navigation || {};
    const w = job.warranty || {};
    const completion = (job.sla && job.sla.completion && job.sla.completion.state) || "";
    const firstVisit = (job.sla && job.sla.first_visit && job.sla.first_visit.state) || "";
    const from = first ? `从${(day.start && day.start.name) || "网点"}出发` : "距上一站";
    const name = (job.customer && job.customer.name) || "客户";
    const phone = job.customer && job.customer.phone;
    const product = Staff.PRODUCTS[job.product] || job.product;
    const due = [];
    if (job.first_visit_due_at && (status === "assigned" || status === "en_route")) {
      due.push(el("div", null, el("dt", null, "上门时限"), el("dd", null, Staff.time(job.first_visit_due_at),
        SLA_WORD[firstVisit] ? el("span", { class: "sla sla-" + firstVisit }, SLA_WORD[firstVisit]) : null)));
    }
    due.push(el("div", null, el("dt", null, "完成时限"), el("dd", null, Staff.time(job.due_at),
      SLA_WORD[completion] ? el("span", { class: "sla sla-" + completion }, SLA_WORD[completion]) : null)));
    const headId = `cust-${day.date}-${job.id}`;

    return el("li", {
      class: "visit",
      "data-testid": "job-row",
      dataset: { code: job.code, id: String(job.id), status, pending: String(pending.length) },
    },
    el("p", { class: "leg" }, el("span", { class: "leg-from" }, from),
      ` 约 ${minutes(visit.travel_minutes)} · ${km(visit.travel_km)}`),
    el("article", { class: "card", "aria-labelledby": headId },
      el("div", { class: "card-head" },
        el("span", { class: "seq", "aria-label": `第 ${seq} 站` }, String(seq)),
        el("span", { class: "window" }, PERIOD[a.period] || "时段待定"),
        el("span", { class: "status s-" + status }, Staff.STATUS[status] || status),
        pending.length ? el("span", { class: "pending-badge" }, "待发送") : null),
      el("h3", { class: "customer", id: headId }, name,
        job.customer && job.customer.tier === "vip" ? el("span", { class: "vip" }, "VIP") : null),
      el("p", { class: "address" }, job.address || "地址未记录，请按地图导航"),
      el("p", { class: "problem" }, product ? el("span", { class: "product" }, product + "：") : null,
        job.problem || "（未填写故障）"),
      phone ? el("a", { class: "call", href: "tel:" + phone, "data-testid": "call" },
        el("span", { "aria-hidden": "true" }, "☎"), el("span", null, "拨打 " + spacedPhone(phone))) : null,
      el("div", { class: "navlinks", role: "group", "aria-label": `导航到${name}` },
        nav.geo ? el("a", { href: nav.geo, class: "nav-geo", "data-testid": "nav-geo" }, "地图导航") : null,
        nav.amap ? el("a", { href: nav.amap, target: "_blank", rel: "noopener noreferrer" }, "高德地图") : null,
        nav.baidu ? el("a", { href: nav.baidu, target: "_blank", rel: "noopener noreferrer" }, "百度地图") : null),
      actions(job, status, pending),
      el("dl", { class: "facts" },
        el("div", null, el("dt", null, "保修"), el("dd", null,
          el("strong", { class: "warranty w-" + (w.decision || "unknown") }, Staff.WARRANTY[w.decision] || "未判定"),
          w.reason ? el("span", { class: "warranty-reason" }, chinese(w.reason)) : null)),
        due,
        el("div", null, el("dt", null, "工单号"), el("dd", { class: "mono" }, job.code)))));
  }

  /** A visit finished today: who, where, and what was done. */
  function doneRow(job) {
    const pending = pendingFor(job.id);
    const p = pending.filter((a) => a.event === "repaired").pop();
    const note = p ? p.note : lastNote(job);
    const name = (job.customer && job.customer.name) || "客户";
    return el("li", {
      class: "done-visit", "data-testid": "done-row",
      dataset: { code: job.code, id: String(job.id), status: "repaired", pending: String(pending.length) },
    },
    el("p", { class: "done-head" },
      el("span", { class: "done-mark", "aria-hidden": "true" }, "✓"),
      el("strong", null, name), " ", el("span", { class: "mono done-code" }, job.code),
      pending.length ? el("span", { class: "pending-badge" }, "待发送") : null),
    el("p", { class: "done-addr" }, job.address || ""),
    note ? el("p", { class: "done-note" }, "维修说明：", note) : null,
    job.customer && job.customer.phone
      ? el("a", { class: "done-call", href: "tel:" + job.customer.phone }, "☎ 回拨 " + spacedPhone(job.customer.phone))
      : null);
  }

  /** A card is rebuilt only when what it shows changed, so a note being
   *  typed keeps its focus while other visits update. */
  function signature(visit, seq, first, day) {
    const job = visit.job;
    return JSON.stringify([seq, first, day.date, day.start && day.start.name, job.updated_at, job.status,
      visit.travel_minutes, visit.travel_km, pendingFor(job.id).map((a) => a.key)]);
  }

  /** The day's open visits in driving order, and the ones finished here:
   *  a repaired job is no longer open, so the server leaves it out of the
   *  day; the tab remembers it to show what is done. */
  function split(d) {
    const done = S.done[d.date] || (S.done[d.date] = {});
    const open = [];
    d.visits.forEach((v, i) => {
      if (shownStatus(v.job, pendingFor(v.job.id)) === "repaired") done[v.job.id] = v.job;
      else {
        delete done[v.job.id];
        open.push({ v, first: i === 0 });
      }
    });
    return { open, done: Object.values(done) };
  }

  function renderDay(which) {
    const panel = $("day-" + which);
    const d = S.days[which];
    const summary = panel.querySelector(".day-summary");
    const list = panel.querySelector(".visits");
    const label = d ? Staff.day(d.date) : "";
    panel.querySelector(".day-date").textContent = label;
    $(`tab-${which}-date`).textContent = label;
    if (!d) $(`tab-${which}-count`).textContent = "";
    if (!d) {
      summary.textContent = S.lastError || "正在加载行程…";
      summary.classList.toggle("is-error", !!S.lastError);
      return;
    }
    summary.classList.remove("is-error");
    const { open, done } = split(d);
    $(`tab-${which}-count`).textContent = `${open.length} 个`;
    let said;
    if (!open.length) {
      said = done.length ? "这一天的上门都已完成。" : "这一天没有上门安排。";
    } else {
      const estimate = d.travel_source === "osrm" ? "" : "（按直线距离估算）";
      said = `${open.length} 个上门待完成` + (done.length ? `，已完成 ${done.length} 个` : "") +
        ` · 路上共约 ${minutes(d.total_travel_minutes)}、${km(d.total_travel_km)}${estimate}`;
    }
    // A live region: only a real change is announced.
    if (summary.textContent !== said) summary.textContent = said;
    const box = panel.querySelector(".done-box");
    show(box, done.length > 0);
    const doneSig = JSON.stringify(done.map((j) => [j.id, j.updated_at, pendingFor(j.id).length]));
    if (box.dataset.sig !== doneSig) {
      box.dataset.sig = doneSig;
      box.querySelector(".done-title").textContent = `已完成 ${done.length} 个`;
      box.querySelector(".done-list").replaceChildren(...done.map(doneRow));
    }
    const nodes = open.map(({ v, first }, i) => {
      const k = `${which}:${v.job.id}`;
      const sig = signature(v, i + 1, first, d);
      const have = S.cards.get(k);
      if (have && have.sig === sig) return have.node;
      const node = card(v, i + 1, first, d);
      S.cards.set(k, { sig, node });
      return node;
    });
    const same = nodes.length === list.children.length && nodes.every((n, i) => list.children[i] === n);
    if (same) return;
    // A note being typed keeps the focus and the caret when its card is rebuilt.
    const active = document.activeElement;
    const typing = active && active.classList && active.classList.contains("note-input") && list.contains(active)
      ? { id: active.id, start: active.selectionStart, end: active.selectionEnd } : null;
    list.replaceChildren(...nodes);
    if (typing) {
      const again = document.getElementById(typing.id);
      if (again && again !== active) {
        again.focus();
        again.setSelectionRange(typing.start, typing.end);
      }
    }
  }

  /** Forgets the cards of visits no longer shown. */
  function pruneCards() {
    const keep = new Set();
    for (const [which, d] of Object.entries(S.days)) {
      if (d) for (const v of d.visits) keep.add(`${which}:${v.job.id}`);
    }
    for (const k of S.cards.keys()) if (!keep.has(k)) S.cards.delete(k);
  }

  function renderTabs() {
    for (const which of ["today", "tomorrow"]) {
      const tab = $("tab-" + which);
      const panel = $("day-" + which);
      const on = S.tab === which;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      if (S.columns) {
        panel.removeAttribute("role");
        panel.removeAttribute("aria-labelledby");
        panel.hidden = false;
      } else {
        panel.setAttribute("role", "tabpanel");
        panel.setAttribute("aria-labelledby", "tab-" + which);
        panel.hidden = !on;
      }
    }
    show($("tabs"), !S.columns);
  }

  function render() {
    renderNet();
    renderQueue();
    renderRefused();
    renderDay("today");
    renderDay("tomorrow");
    pruneCards();
    renderTabs();
    saveCache();
    const d = S.days.today;
    $("who").textContent = d && d.technician_name ? `技师 ${d.technician_name}` : "";
  }

  // --- the session ----------------------------------------------------------

  /** A token revoked or expired mid-day: the log-in form with the reason.
   *  The waiting steps stay on the phone and go out after the next log-in. */
  function sessionLost(e) {
    show($("app"), false);
    show($("refresh"), false);
    show($("logout"), false);
    show($("login"), true);
    $("login-error").textContent = e.message;
    show($("login-error"), true);
    $("login-token").value = "";
    $("login-token").focus();
  }

  function selectTab(which, focus) {
    S.tab = which;
    renderTabs();
    if (focus) $("tab-" + which).focus();
  }

  function wire() {
    for (const which of ["today", "tomorrow"]) {
      $("tab-" + which).addEventListener("click", () => selectTab(which, false));
    }
    $("tabs").addEventListener("keydown", (ev) => {
      const order = ["today", "tomorrow"];
      const i = order.indexOf(S.tab);
      let to = null;
      if (ev.key === "ArrowRight") to = order[(i + 1) % order.length];
      else if (ev.key === "ArrowLeft") to = order[(i + order.length - 1) % order.length];
      else if (ev.key === "Home") to = order[0];
      else if (ev.key === "End") to = order[order.length - 1];
      if (to) { ev.preventDefault(); selectTab(to, true); }
    });
    const wide = window.matchMedia("(min-width: 1000px)");
    const mode = () => { S.columns = wide.matches; renderTabs(); };
    wide.addEventListener("change", mode);
    S.columns = wide.matches;

    $("refresh").addEventListener("click", () => { flush(); load().catch(() => {}); });
    $("queue-retry").addEventListener("click", () => { S.retryDelay = RETRY_FIRST_MS; flush(); });
    $("logout").addEventListener("click", () => {
      sessionStorage.removeItem(cacheKey());
      sessionStorage.removeItem(ME);
    });
    window.addEventListener("online", () => {
      S.retryDelay = RETRY_FIRST_MS;
      setNet("online");
      flush().then(() => load()).catch(() => {});
    });
    window.addEventListener("offline", () => setNet("offline"));
    window.addEventListener("storage", (ev) => { if (ev.key === queueKey()) render(); });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") { flush(); load().catch(() => {}); }
    });
    // The dispatcher may add, move or reschedule visits during the day.
    setInterval(() => {
      if (document.visibilityState !== "visible" || S.flushing) return;
      if (queue().length) flush();
      else load().catch(() => {});
    }, REFRESH_MS);
  }

  let wired = false;
  Staff.session(async () => {
    let me;
    try {
      me = await request("GET", `${API}/session`);
      sessionStorage.setItem(ME, JSON.stringify({ token: Staff.token(), me }));
    } catch (e) {
      // Opened again in a basement: carry on with what this tab knew of this token.
      let kept = null;
      try { kept = JSON.parse(sessionStorage.getItem(ME) || "null"); } catch (_) { /* none */ }
      if (!retryable(e) || !kept || kept.token !== Staff.token()) throw e;
      me = kept.me;
    }
    if (me.role !== "technician") {
      throw new Staff.ApiError(403, { error: { code: "forbidden", message: "wrong role" } });
    }
    if (!me.scope || me.scope.kind !== "technician") {
      throw new Staff.ApiError(400, { error: { code: "no_technician",
        message: "这个令牌没有绑定到某位技师，请联系管理员重新生成。" } });
    }
    S.tech = me.scope.id;
    S.cards.clear();
    const kept = readCache();
    S.done = (kept && kept.done) || {};
    if (!wired) { wire(); wired = true; }
    show($("refresh"), true);
    show($("logout"), true);
    render();
    await load();
    document.body.dataset.ready = "true";
    flush();
  });
})();
