// Shared by the staff pages (/agent, /dispatch, ...): the token session,
// API calls with refusals turned into sentences, times in Asia/Shanghai,
// and a DOM builder that only ever inserts text. No inline script anywhere,
// so the pages run under `script-src 'self'`.
"use strict";

const Staff = (() => {
  const KEY = "repairnet.token";

  /** Reads `#token=...` once into sessionStorage and removes it from the
   *  address bar, so the token is neither bookmarked nor sent anywhere. */
  function takeTokenFromFragment() {
    const m = location.hash.match(/(?:^#|&)token=([^&]+)/);
    if (m) {
      sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
  }

  function token() { return sessionStorage.getItem(KEY); }
  function setToken(t) { sessionStorage.setItem(KEY, t.trim()); }
  function logout() { sessionStorage.removeItem(KEY); }

  /** What an API refusal means, in a sentence an agent can act on. */
  const SENTENCES = {
    unauthorized: "令牌无效、已过期或已被撤销，请重新登录。",
    forbidden: "此令牌的角色不能执行这个操作。",
    not_found: "没有找到（或不在您的权限范围内）。",
    full: "该技师当天已排满，请选择其他技师或日期。",
    already_assigned: "该工单已派给这位技师。",
    technician_unsuitable: "这位技师不能接这个工单（不在岗、没有该产品技能或超出上门范围）。",
    transition_not_allowed: "工单当前状态不允许这个操作。",
    transition_too_early: "现在还不能执行这个操作。",
    transition_needs_more: "还缺少必要的信息（例如转派原因）。",
    stale_version: "工单刚被别人修改过，请刷新后重试。",
    idempotency_key_reused: "这个表单已经提交过不同的内容，请开始新的来电。",
    no_station: "附近没有能处理该产品的网点。",
    invalid_input: "输入有误：",
    unavailable: "服务暂时不可用，请稍后重试。",
    internal: "服务器出错，请稍后重试。",
  };

  class ApiError extends Error {
    constructor(status, body) {
      const e = (body && body.error) || {};
      const base = SENTENCES[e.code] || "";
      const detail = e.code === "invalid_input" ? (e.message || "") : "";
      super((base + detail) || e.message || `HTTP ${status}`);
      this.status = status;
      this.code = e.code || "http_" + status;
      this.details = e.details;
      this.apiMessage = e.message;
    }
  }

  /** Calls the API with the session's token; resolves to the JSON body,
   *  rejects with an ApiError (401 also clears the session). */
  async function api(method, path, body, opts = {}) {
    const headers = { Accept: "application/json" };
    const t = token();
    if (t) headers.Authorization = "Bearer " + t;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
    let res;
    try {
      res = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        signal: opts.signal,
      });
    } catch (e) {
      if (e.name === "AbortError") throw e;
      throw new ApiError(0, { error: { code: "unavailable", message: String(e) } });
    }
    const json = res.status === 204 ? null : await res.json().catch(() => null);
    if (!res.ok) {
      if (res.status === 401) logout();
      throw new ApiError(res.status, json);
    }
    return json;
  }

  const dateTime = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", month: "numeric", day: "numeric",
    hour: "2-digit", minute: "2-digit", hour12: false,
  });
  const dayFmt = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", month: "numeric", day: "numeric", weekday: "short",
  });
  /** The named parts of a formatted date (locales differ in separators). */
  function parts(fmt, d) {
    return Object.fromEntries(fmt.formatToParts(d).map((p) => [p.type, p.value]));
  }
  /** `12月2日 14:05` in Asia/Shanghai. */
  function time(iso) {
    if (!iso) return "—";
    const p = parts(dateTime, new Date(iso));
    return `${p.month}月${p.day}日 ${p.hour}:${p.minute}`;
  }
  /** A calendar day `YYYY-MM-DD` as `12月3日周四`. */
  function day(ymd) {
    if (!ymd) return "—";
    const p = parts(dayFmt, new Date(ymd + "T12:00:00+08:00"));
    return `${p.month}月${p.day}日${p.weekday}`;
  }
  function km(m) { return m == null ? "—" : (m / 1000).toFixed(m < 10000 ? 1 : 0) + " km"; }

  /** `el("p", {class: "x", dataset: {code}}, "text", child)`: text only. */
  /** A Leaflet map in `container` fitted to China: the tile layer the page
   *  or its address configures (`data-tiles`, `?tiles=`; none by default),
   *  marked `no-tiles` while tiles fail, the 5° grid under everything and
   *  a note saying what is shown when there is no base map. */
  function baseMap(container, params, noTilesNote, options) {
    const tiles = params.get("tiles") || container.dataset.tiles || "none";
    // Leaflet reads an attribution as HTML: one from the address is text.
    const asText = document.createElement("div");
    asText.textContent = params.get("attribution") || "";
    const attribution = params.has("tiles") ? asText.innerHTML : (container.dataset.attribution || "");
    const map = L.map(container, { minZoom: 3, keyboard: true, ...options });
    map.fitBounds([[18.0, 73.5], [53.6, 135.1]]);
    map.attributionControl.setPrefix(false);
    if (tiles !== "none") {
      let errors = 0;
      L.tileLayer(tiles, { maxZoom: Number(container.dataset.maxZoom) || 18, attribution })
        .on("tileerror", () => { errors += 1; if (errors === 4) container.classList.add("no-tiles"); })
        .on("tileload", () => container.classList.remove("no-tiles"))
        .addTo(map);
    } else {
      container.classList.add("no-tiles");
    }
    graticule(map);
    const note = L.control({ position: "bottomleft" });
    note.onAdd = () => el("div", { class: "tiles-note" }, noTilesNote);
    note.addTo(map);
    return map;
  }

  /** A faint 5° latitude/longitude grid over China, so a map without
   *  reachable tiles still shows where things are. */
  function graticule(map) {
    const grid = L.layerGroup();
    const style = { color: "#9aa9b5", weight: 1, opacity: 0.5, interactive: false, dashArray: "2 4" };
    const label = (at, text, anchor) => L.marker(at, {
      interactive: false, keyboard: false,
      icon: L.divIcon({ className: "grid-label", html: el("span", null, text), iconSize: [44, 14], iconAnchor: anchor }),
    }).addTo(grid);
    for (let lat = 15; lat <= 55; lat += 5) {
      L.polyline([[lat, 70], [lat, 140]], style).addTo(grid);
      if (lat > 15 && lat % 10 === 0) label([lat, 70], lat + "°N", [-3, 14]);
    }
    for (let lon = 70; lon <= 140; lon += 5) {
      L.polyline([[15, lon], [55, lon]], style).addTo(grid);
      if (lon % 10 === 0) label([15, lon], lon + "°E", [-3, -2]);
    }
    grid.addTo(map);
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "dataset") Object.assign(e.dataset, v);
      else if (k === "class") e.className = v;
      else if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
      else if (v === true) e.setAttribute(k, "");
      else e.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c == null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  const STATUS = {
    new: "待派工", assigned: "已派工", en_route: "在路上", on_site: "已上门", repaired: "已修复",
    received: "已收件", repairing: "维修中", ready_for_pickup: "待取件", notified: "已通知取件",
    picked_up: "已取件", mailed_back: "已寄回", on_hold: "暂停", closed: "已关闭", cancelled: "已取消",
  };
  const SLA = { on_track: "正常", warning: "预警", breached: "已超时", paused: "暂停" };
  const WARRANTY = {
    return: "退货", exchange: "换货", free_repair: "免费维修", paid_repair: "付费维修", none: "不予受理",
  };
  const PRODUCTS = {
    notebook: "笔记本", desktop: "台式机", all_in_one: "一体机", monitor: "显示器",
    tablet: "平板", printer: "打印机", server: "服务器",
  };
  const REJECT = {
    out_of_radius: "超出上门范围", no_onsite: "不提供上门服务", no_product: "不维修该产品",
    no_skill: "没有该产品技能", off_duty: "不在岗", full: "当天已排满", closed: "当天不营业",
    no_technicians: "没有技师",
  };

  /** Wires a log-in form (`#login` with `#login-token`) and calls `start`
   *  once a token is there; `start` may throw an ApiError (bad token or
   *  wrong role), which shows the form again with the reason. */
  function session(start) {
    takeTokenFromFragment();
    const form = document.getElementById("login");
    const msg = document.getElementById("login-error");
    const app = document.getElementById("app");
    async function go() {
      if (!token()) {
        form.hidden = false; app.hidden = true;
        document.getElementById("login-token").focus();
        return;
      }
      try {
        form.hidden = true; app.hidden = false;
        await start();
      } catch (e) {
        form.hidden = false; app.hidden = true;
        msg.textContent = e instanceof ApiError
          ? (e.status === 403 ? "此令牌的角色不能使用本页。" : e.message)
          : String(e);
        msg.hidden = false;
        if (e.status === 403) logout();
      }
    }
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = document.getElementById("login-token").value;
      if (v.trim()) { setToken(v); msg.hidden = true; go(); }
    });
    const out = document.getElementById("logout");
    if (out) out.addEventListener("click", () => { logout(); location.reload(); });
    go();
  }

  /** Fetches `path` with the session's token and saves the answer as
   *  `filename`: a plain link cannot carry the token (it must not go into
   *  a URL), so the file goes through a Blob. */
  async function download(path, filename, accept) {
    const headers = { Accept: accept || "*/*" };
    const t = token();
    if (t) headers.Authorization = "Bearer " + t;
    let res;
    try {
      res = await fetch(path, { headers });
    } catch (e) {
      throw new ApiError(0, { error: { code: "unavailable", message: String(e) } });
    }
    if (!res.ok) {
      if (res.status === 401) logout();
      throw new ApiError(res.status, await res.json().catch(() => null));
    }
    const url = URL.createObjectURL(await res.blob());
    const a = el("a", { href: url, download: filename, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    // Some browsers read the Blob after click() returns.
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  function newKey() {
    return (crypto.randomUUID && crypto.randomUUID()) ||
      Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  return { api, ApiError, baseMap, session, token, logout, time, day, km, el, newKey, download,
           STATUS, SLA, WARRANTY, PRODUCTS, REJECT };
})();
