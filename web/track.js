// Repair tracking: code + last four phone digits -> the job's public status
// in Chinese words, its station and a timeline of what happened, with times
// read in Asia/Shanghai.
"use strict";

const STATUS = {
  new: "已受理", assigned: "已派工程师", en_route: "工程师在路上", on_site: "工程师已上门",
  repaired: "已修复", received: "网点已收件", repairing: "维修中", ready_for_pickup: "可取件",
  notified: "已通知取件", picked_up: "已取件", mailed_back: "已寄回", on_hold: "暂停，等待您的答复",
  closed: "已完成", cancelled: "已取消",
};

// What the customer can expect or has to do next.
const NOTES = {
  new: "我们已收到您的报修，正在为您安排工程师。",
  assigned: "已为您安排工程师，工程师出发前会与您联系。",
  en_route: "工程师已出发，正在前往您的地址。",
  on_site: "工程师已到达，正在为您检修。",
  repaired: "设备已修复，感谢您的耐心等待。",
  received: "服务网点已收到您的设备，即将开始检修。",
  repairing: "工程师正在维修您的设备。",
  ready_for_pickup: "设备已修好，请带上维修单到服务网点取件。",
  notified: "设备已修好，我们已通知您取件，请尽快到服务网点取回。",
  picked_up: "您已取回设备。",
  mailed_back: "设备已寄回给您，请留意快递。",
  on_hold: "维修暂停，正在等待您的答复，请留意来电或短信。",
  closed: "本次服务已结束，感谢您的信任。",
  cancelled: "本次维修已取消。如有疑问请联系服务网点。",
};

// Timeline entries by event, since several events (a follow-up, a new
// visit day, a second pickup notice) leave the status as it was.
const EVENTS = {
  created: "报修已受理", assign: "已派工程师", transfer: "已改派工程师", en_route: "工程师出发",
  on_site: "工程师到达", repaired: "维修完成", repairing: "开始维修", ready_for_pickup: "可取件",
  notified: "已通知取件", picked_up: "已取件", mailed_back: "已寄回", hold: "维修暂停",
  resume: "继续维修", closed: "服务完成", cancelled: "已取消", follow_up: "已收到您的评价",
  rescheduled: "上门时间已调整", corrected: "报修信息已更新", recontacted: "客服已回电",
};

const KINDS = { onsite: "上门维修", carry_in: "送修" };
const PRODUCTS = {
  notebook: "笔记本", desktop: "台式机", all_in_one: "一体机", monitor: "显示器",
  tablet: "平板", printer: "打印机", server: "服务器",
};
const PERIODS = { am: "上午", pm: "下午" };
const DONE = new Set(["repaired", "picked_up", "mailed_back", "closed"]);

const $ = (id) => document.getElementById(id);

// Times by hand, not by the browser's locale data: China is UTC+8 all year.
const WEEKDAYS = ["周日", "周一", "周二", "周三", "周四", "周五", "周六"];
const pad = (n) => String(n).padStart(2, "0");
const shanghai = (iso) => new Date(new Date(iso).getTime() + 8 * 3600000);
/** `12月2日 14:05` */
function when(iso) {
  if (!iso) return "—";
  const t = shanghai(iso);
  return `${t.getUTCMonth() + 1}月${t.getUTCDate()}日 ${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}`;
}
/** A calendar day `YYYY-MM-DD` as `12月3日周四`. */
function day(ymd) {
  const [y, m, d] = ymd.split("-").map(Number);
  const t = new Date(Date.UTC(y, m - 1, d));
  return `${m}月${d}日${WEEKDAYS[t.getUTCDay()]}`;
}

// OSM opening_hours ("Mo-Fr 08:30-17:30; Sa 09:00-12:00") in Chinese.
const OSM_DAYS = { Mo: "周一", Tu: "周二", We: "周三", Th: "周四", Fr: "周五", Sa: "周六", Su: "周日", PH: "节假日" };
function hoursText(raw) {
  if (raw.trim() === "24/7") return "全天 24 小时";
  return raw.split(/\s*;\s*/).map((rule) => rule
    .replace(/\bMo-Su\b/, "每天")
    .replace(/\b(Mo|Tu|We|Th|Fr|Sa|Su|PH)-(Mo|Tu|We|Th|Fr|Sa|Su)\b/g, (_, a, b) => `${OSM_DAYS[a]}至${OSM_DAYS[b]}`)
    .replace(/\b(Mo|Tu|We|Th|Fr|Sa|Su|PH)\b/g, (d) => OSM_DAYS[d])
    .replace(/\s*,\s*/g, "、")
    .replace(/\b(off|closed)\b/g, "休息")).join("；");
}

function show(id, on) {
  $(id).hidden = !on;
  const label = $(`${id}-label`);
  if (label) label.hidden = !on;
}

function fail(message) {
  $("track-result").hidden = true;
  $("track-error").textContent = message;
  $("track-error").hidden = false;
  $("track-error").scrollIntoView({ block: "nearest" });
}

// The API's refusals in Chinese; its own words are for developers.
function refusal(status, body) {
  const code = body && body.error && body.error.code;
  if (status === 404 || code === "not_found") {
    return "没有找到这张维修单：请核对维修单号和手机号后四位（即报修时留的手机号）。";
  }
  if (code === "invalid_input" || code === "invalid_parameter") {
    return "请填写维修单号和手机号后四位。";
  }
  if (status === 429) return "查询次数太多，请稍后再试。";
  return `查询暂时失败（错误 ${status}），请稍后再试。`;
}

/** One entry a line, named by its event. Without event names an entry
 *  that repeats the status before it is left out, so a status never shows
 *  twice in a row. */
function timeline(history) {
  const out = [];
  let last = null;
  for (const h of history) {
    if (h.event) {
      const what = h.event === "created" ? STATUS[h.status] : EVENTS[h.event] || STATUS[h.status];
      out.push({ at: h.at, what: what || h.event });
    } else if (h.status !== last) {
      out.push({ at: h.at, what: STATUS[h.status] || h.status });
    }
    last = h.status;
  }
  return out;
}

async function track(code, last4) {
  $("track-error").hidden = true;
  if (!code) {
    fail("请填写维修单号，例如 RN-7K3Q-9XW2。");
    $("code").focus({ preventScroll: true });
    return;
  }
  if (!/^\d{4}$/.test(last4)) {
    fail("请填写手机号的后四位数字。");
    $("last4").focus({ preventScroll: true });
    return;
  }
  const q = new URLSearchParams({ code, phone_last4: last4 });
  let res;
  let body = null;
  try {
    res = await fetch(`/api/v1/track?${q}`, { headers: { Accept: "application/json" } });
    body = await res.json().catch(() => null);
  } catch (e) {
    fail("网络连接失败，请检查网络后重试。");
    return;
  }
  if (!res.ok || !body) {
    fail(refusal(res.status, body));
    return;
  }
  const tone = DONE.has(body.status) ? "done" : body.status === "cancelled" ? "stopped" : "";
  $("track-status").textContent = STATUS[body.status] || body.status;
  $("track-status").dataset.status = body.status;
  $("track-status").dataset.tone = tone;
  $("track-note").textContent = NOTES[body.status] || "";
  $("track-code").textContent = body.code;
  $("track-kind").textContent = KINDS[body.kind] || body.kind || "—";
  $("track-product").textContent = PRODUCTS[body.product] || body.product || "—";
  show("track-product", Boolean(body.product));

  const v = body.visit;
  $("track-visit").textContent = v && v.day ? `${day(v.day)} ${PERIODS[v.period] || ""}`.trim() : "";
  show("track-visit", Boolean(v && v.day));
  $("track-due").textContent = when(body.due_at);
  show("track-due", Boolean(body.due_at) && !DONE.has(body.status) && body.status !== "cancelled");

  const s = body.station;
  const station = $("track-station");
  station.replaceChildren();
  if (s) {
    const name = document.createElement("div");
    name.textContent = s.name;
    const address = document.createElement("div");
    address.textContent = s.address;
    station.append(name, address);
    if (s.opening_hours) {
      const hours = document.createElement("div");
      hours.textContent = `营业时间 ${hoursText(s.opening_hours)}`;
      station.append(hours);
    }
    if (s.phone) {
      const a = document.createElement("a");
      a.className = "phone";
      a.href = "tel:" + s.phone.replace(/[^0-9+]/g, "");
      a.textContent = s.phone;
      a.setAttribute("aria-label", "拨打服务网点电话 " + s.phone);
      station.append(a);
    }
  }
  show("track-station", Boolean(s));

  const entries = timeline(body.history || []);
  $("track-history").replaceChildren(
    ...entries.map((e, i) => {
      const li = document.createElement("li");
      if (i === entries.length - 1) li.className = "latest";
      const what = document.createElement("span");
      what.className = "what";
      what.textContent = e.what;
      const at = document.createElement("time");
      at.className = "when";
      at.dateTime = e.at;
      at.textContent = when(e.at);
      li.append(what, at);
      return li;
    }),
  );

  const rated = body.satisfaction != null;
  $("track-rating").textContent = rated ? `${body.satisfaction} 分` : "";
  show("track-rating", rated);
  const survey = $("track-survey");
  survey.href = `/survey?code=${encodeURIComponent(body.code)}`;
  survey.hidden = rated || !DONE.has(body.status);
  $("track-result").hidden = false;
}

$("track-form").addEventListener("submit", (e) => {
  e.preventDefault();
  track($("code").value.trim().toUpperCase(), $("last4").value.trim());
});

const params = new URLSearchParams(location.search);
if (params.get("code")) {
  $("code").value = params.get("code");
}
