// Customer job tracking: code + last four phone digits -> public status.
"use strict";

const STATUS_TEXT = {
  new: "已受理 Received", assigned: "已派工程师 Technician assigned", en_route: "工程师在路上 On the way",
  on_site: "工程师已上门 On site", repaired: "已修复 Repaired", received: "已收件 Received at station",
  repairing: "维修中 Repairing", ready_for_pickup: "可取件 Ready for pickup", notified: "已通知取件 Pickup notice sent",
  picked_up: "已取件 Picked up", mailed_back: "已寄回 Mailed back", on_hold: "等待您的回复 Waiting for you",
  closed: "已完成 Closed", cancelled: "已取消 Cancelled",
};

const $ = (id) => document.getElementById(id);
const when = (iso) => new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });

async function track(code, last4) {
  $("track-error").hidden = true;
  $("track-result").hidden = true;
  const q = new URLSearchParams({ code: code.trim(), phone_last4: last4.trim() });
  let res, body;
  try {
    res = await fetch(`/api/v1/track?${q}`);
    body = await res.json();
  } catch (e) {
    $("track-error").textContent = "网络错误，请稍后再试 Network error, please retry";
    $("track-error").hidden = false;
    return;
  }
  if (!res.ok) {
    $("track-error").textContent = body && body.error ? body.error.message : `HTTP ${res.status}`;
    $("track-error").hidden = false;
    return;
  }
  $("track-status").textContent = STATUS_TEXT[body.status] || body.status;
  $("track-status").dataset.status = body.status;
  const s = body.station;
  $("track-station").textContent = s ? `服务网点 Station: ${s.name} · ${s.address} · ${s.phone}` : "";
  const v = body.visit;
  $("track-visit").textContent = v
    ? `上门日期 Visit: ${v.day} ${v.period === "am" ? "上午 AM" : v.period === "pm" ? "下午 PM" : ""}`
    : "";
  $("track-due").textContent = when(body.due_at);
  const list = $("track-history");
  list.replaceChildren(
    ...body.history.map((h) => {
      const li = document.createElement("li");
      li.textContent = `${when(h.at)} · ${STATUS_TEXT[h.status] || h.status}`;
      return li;
    }),
  );
  $("track-result").hidden = false;
}

$("track-form").addEventListener("submit", (e) => {
  e.preventDefault();
  track($("code").value, $("last4").value);
});

const params = new URLSearchParams(location.search);
if (params.get("code")) {
  $("code").value = params.get("code");
}
