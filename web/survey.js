// The satisfaction survey: checks the form, posts the score to
// /api/v1/survey and answers every outcome in Chinese; after a score is
// recorded only the thank-you remains, with a call-back promise for a low one.
"use strict";

const MAX_COMMENT = 500;
const $ = (id) => document.getElementById(id);

const FIELDS = { code: "维修单号", phone_last4: "手机号后四位", score: "评分", comment: "意见和建议" };

// The API's refusals in Chinese; its own words are for developers.
const SENTENCES = {
  not_found: "维修单号和手机号后四位对不上，请核对后再试（手机号是报修时留的号码）。",
  already_recorded: "这张维修单已经评价过了，谢谢您的反馈。",
  not_complete: "这次维修还没有完成，完成后才能评价。",
  window_closed: "这张维修单的评价期已过，无法再评价。如有意见，请联系服务网点。",
  payload_too_large: `意见和建议最多 ${MAX_COMMENT} 字，请删减后再提交。`,
  unavailable: "服务暂时不可用，请稍后再试。",
  internal: "服务器出错了，请稍后再试。",
};

function refusal(status, body) {
  const e = (body && body.error) || {};
  if (e.code === "invalid_parameter" || e.code === "invalid_input") {
    const fields = (e.details && Array.isArray(e.details.fields) ? e.details.fields : [])
      .map((d) => FIELDS[d.field])
      .filter((f, i, all) => f && all.indexOf(f) === i);
    return fields.length
      ? `请检查${fields.join("、")}是否填写正确。`
      : "填写的内容有误，请检查后再提交。";
  }
  if (SENTENCES[e.code]) return SENTENCES[e.code];
  if (status === 429) return "提交次数太多，请稍后再试。";
  return `提交失败（错误 ${status}），请稍后再试。`;
}

// The message sits by the submit button, where the customer is looking;
// the field to fix gets the keyboard focus without scrolling away from it.
function fail(message, field) {
  const box = $("survey-error");
  box.textContent = message;
  box.hidden = false;
  // The button sits right under the message: bring both into view.
  $("submit").scrollIntoView({ block: "nearest" });
  if (field) field.focus({ preventScroll: true });
}

// Characters as people count them (an emoji is one, not two).
const length = (s) => Array.from(s).length;

function updateCounter() {
  const left = MAX_COMMENT - length($("comment").value);
  const counter = $("comment-count");
  counter.textContent = left >= 0 ? `还可以写 ${left} 字` : `超出 ${-left} 字`;
  counter.classList.toggle("over", left < 0);
}

const WEEKDAYS = ["周日", "周一", "周二", "周三", "周四", "周五", "周六"];
const pad = (n) => String(n).padStart(2, "0");
/** `12月2日周三 14:05` in Asia/Shanghai (UTC+8 all year), by hand so the
 *  browser's locale data cannot change it. */
function when(iso) {
  const t = new Date(new Date(iso).getTime() + 8 * 3600000);
  return `${t.getUTCMonth() + 1}月${t.getUTCDate()}日${WEEKDAYS[t.getUTCDay()]} ${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}`;
}

function thank(body) {
  $("survey-form").hidden = true;
  $("survey-error").hidden = true;
  $("thanks-score").textContent = body.recorded_at
    ? `您给出的评分：${body.score} 分（${when(body.recorded_at)}）`
    : `您给出的评分：${body.score} 分`;
  $("thanks-callback").hidden = !body.complaint;
  const thanks = $("thanks");
  thanks.dataset.complaint = body.complaint ? "true" : "false";
  thanks.hidden = false;
  $("thanks-heading").focus();
}

async function submit() {
  $("survey-error").hidden = true;
  delete $("survey-error").dataset.code;
  const code = $("code").value.trim();
  const last4 = $("last4").value.trim();
  const picked = document.querySelector('input[name="score"]:checked');
  const comment = $("comment").value.trim();
  if (!code) return fail("请填写维修单号，例如 RN-7K3Q-9XW2。", $("code"));
  if (!/^\d{4}$/.test(last4)) return fail("请填写手机号的后四位数字。", $("last4"));
  if (!picked) {
    return fail("请选择一个评分（1 到 5 分）。", document.querySelector('input[name="score"]'));
  }
  if (length(comment) > MAX_COMMENT) {
    return fail(`意见和建议最多 ${MAX_COMMENT} 字，请删减后再提交。`, $("comment"));
  }
  const payload = { code, phone_last4: last4, score: Number(picked.value) };
  if (comment) payload.comment = comment;

  const button = $("submit");
  button.disabled = true;
  let res;
  let body = null;
  try {
    res = await fetch("/api/v1/survey", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(payload),
    });
    body = await res.json().catch(() => null);
  } catch (e) {
    button.disabled = false;
    return fail("网络连接失败，请检查网络后重试。");
  }
  button.disabled = false;
  if (res.ok && body) return thank(body);
  const message = refusal(res.status, body);
  const errorCode = body && body.error && body.error.code;
  $("survey-error").dataset.code = errorCode || `http_${res.status}`;
  fail(message);
}

$("survey-form").addEventListener("submit", (e) => {
  e.preventDefault();
  submit();
});
$("comment").addEventListener("input", updateCounter);
updateCounter();

const code = new URLSearchParams(location.search).get("code");
if (code) {
  $("code").value = code;
}
