/* The rule builder and its live preview (the cohort page).
 *
 * The builder edits the API's JSON rule objects; the text box holds the CLI's rule text,
 * a rule per line. The server is the only parser: every change is sent (debounced) to
 * /app/cohorts/preview, which answers the count, a sample, and the rules both as
 * canonical text and as JSON, which is what switching between builder and text uses.
 * Without script the text box alone works, and the form posts it as it is. The cards
 * (one rule each, to and from JSON) are rules.js; this is the page around them.
 */
(function () {
  "use strict";
  var form = document.getElementById("cohort-form");
  var dataEl = document.getElementById("builder-data");
  if (!form || !dataEl) return;

  var data = JSON.parse(dataEl.textContent);
  var list = form.querySelector("[data-rule-list]");
  var textarea = document.getElementById("rules_text");
  var textErrors = document.getElementById("rules-text-errors");
  var modeInput = form.querySelector("[data-mode-input]");
  var jsonInput = form.querySelector("[data-rules-json]");
  var $ = function (sel) { return document.querySelector(sel); };
  var view = {
    box: $("[data-preview]"), count: $("[data-preview-count]"), unit: $("[data-preview-unit]"),
    status: $("[data-preview-status]"), details: $("[data-preview-details]"),
    sample: $("[data-preview-sample]"), text: $("[data-preview-text]"),
    mini: $("[data-preview-mini]"),
  };
  var MISSING = {
    event: "Name the event.", count_value: "Say how many times.",
    window_value: "Say how far back to look.", property: "Name the property.",
    value: "Give a value to compare with.", cohort: "Choose a cohort.",
  };
  var mode = "text";
  var timer = null, seq = 0, controller = null, switching = false;
  function matchValue() { return form.querySelector('input[name="match"]:checked').value; }
  function show(el, visible) { el.hidden = !visible; }
  var deck = window.gurulu.ruleCards(list, data.cohorts, matchValue);
  var cards = deck.cards, field = deck.field;

  /* The rules to send, and `owners`: the card each sent rule came from. A rule added but
   * not yet touched is not a mistake, so it is left out; the server numbers the rules it
   * was sent, so its errors are placed through `owners`, never by a card's position. */
  function collect() {
    if (mode === "text") {
      var lines = textarea.value.split("\n").map(function (l) { return l.trim(); }).filter(Boolean);
      return { rules: lines, owners: [], match: matchValue(), incomplete: null };
    }
    var rules = [], owners = [], incomplete = null;
    cards().forEach(function (card, position) {
      var read = deck.read(card);
      if (read.missing && !card.dataset.touched) return;
      rules.push(read.rule);
      owners.push(card);
      var flaw = read.missing ? { el: read.missing } : read.problem;
      if (flaw && !incomplete) incomplete = { card: card, position: position, el: flaw.el, text: flaw.text };
    });
    return { rules: rules, owners: owners, match: matchValue(), incomplete: incomplete };
  }

  /* ---- errors next to their rule ---- */
  function clearErrors() {
    textErrors.innerHTML = "";
    cards().forEach(function (card) {
      var p = card.querySelector("[data-rule-error]");
      p.hidden = true; p.textContent = "";
      card.classList.remove("rule--invalid");
      card.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); el.removeAttribute("aria-describedby"); });
    });
  }

  function ruleError(card, text, el) {
    if (!card || !card.isConnected) return false;
    var p = card.querySelector("[data-rule-error]");
    p.id = "rule-error-" + cards().indexOf(card); p.textContent = text; p.hidden = false;
    card.classList.add("rule--invalid");
    var target = el || card.querySelector("input:not([hidden]), select");
    target.setAttribute("aria-invalid", "true");
    target.setAttribute("aria-describedby", p.id);
    return true;
  }

  function textError(index, problem) {
    var lines = textarea.value.split("\n"), seen = -1;
    for (var n = 0; n < lines.length; n++) {
      if (lines[n].trim() && ++seen === index) break;
    }
    var p = document.createElement("p");
    p.className = "field-error";
    p.textContent = "Line " + (n + 1) + (problem.column ? ", column " + problem.column : "") + ": " + problem.text;
    textErrors.appendChild(p);
    if (problem.column && lines[n] !== undefined) {
      var pre = document.createElement("pre");
      pre.className = "caret";
      pre.textContent = lines[n].trim() + "\n" + " ".repeat(problem.column - 1) + "^";
      textErrors.appendChild(pre);
    }
  }

  // `rules` is keyed by the index of a rule as it was sent; `owners` maps that to its card.
  function showErrors(rules, owners) {
    clearErrors();
    Object.keys(rules || {}).forEach(function (key) {
      var index = Number(key);
      if (mode === "text") textError(index, rules[key]);
      else if (owners[index]) ruleError(owners[index], rules[key].text, deck.control(owners[index], rules[key].field));
    });
  }

  function showMissing(incomplete) {
    clearErrors();
    ruleError(incomplete.card, incomplete.text || MISSING[incomplete.el.getAttribute("data-field")] || "Fill this in.", incomplete.el);
    incomplete.el.focus();
  }

  /* ---- preview ---- */
  function idle(message) {
    view.count.textContent = "—";
    view.mini.textContent = "";
    view.status.textContent = message;
    view.details.hidden = true;
  }

  function showCount(body) {
    clearErrors();
    view.count.textContent = body.count_text;
    view.unit.textContent = body.count === 1 ? "person matches right now" : "people match right now";
    view.mini.textContent = body.count_text + (body.count === 1 ? " person matches" : " people match");
    // A rule about an event never seen here (a typo, most often) is said first: it
    // explains a count of zero better than "widen the window" does.
    var notes = (body.notices || []).map(function (n) { return "Rule " + (n.rule + 1) + ": " + n.message; });
    view.status.textContent = notes.length ? notes.join(" ")
      : body.count ? "" : "Nobody matches yet. Widen the window or loosen a rule.";
    view.sample.innerHTML = "";
    body.sample.slice(0, 12).forEach(function (id) {
      var li = document.createElement("li"); li.textContent = id; view.sample.appendChild(li);
    });
    view.text.textContent = body.rules_text.join("\n");
    view.details.hidden = body.count === 0;
  }

  function ask(rules, owners) {
    var mine = ++seq;
    if (controller) controller.abort();
    controller = new AbortController();
    view.box.setAttribute("aria-busy", "true");
    view.box.classList.add("is-loading");
    return window.gurulu.postJson("/app/cohorts/preview", { rules: rules, match: matchValue() }, controller.signal)
      .then(function (response) {
        if (response.status === 401) { window.location.assign("/app/login?next=" + encodeURIComponent(location.pathname)); }
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (mine !== seq) return null;
        view.box.setAttribute("aria-busy", "false");
        view.box.classList.remove("is-loading");
        if (answer.ok) { showCount(answer.body); return answer.body; }
        idle(answer.body.error.message);
        showErrors(answer.body.error.rules, owners);
        return null;
      })
      .catch(function (error) {
        if (error.name === "AbortError") return null;
        view.box.classList.remove("is-loading");
        idle("The preview is not available right now; you can still save.");
        return null;
      });
  }

  function refresh() {
    var c = collect();
    if (!c.rules.length) {
      clearErrors();
      idle(mode === "builder" && cards().length ? "Fill in a rule to see who matches." : "Add a rule to see who matches.");
      return;
    }
    if (c.incomplete) {
      clearErrors();
      var rule = c.incomplete.position + 1;
      // A value to fix is said at once, where it is; an empty field only when saving.
      if (c.incomplete.text) ruleError(c.incomplete.card, c.incomplete.text, c.incomplete.el);
      idle((c.incomplete.text ? "Fix rule " : "Finish rule ") + rule + " to update the count.");
      return;
    }
    ask(c.rules, c.owners);
  }

  function schedule() {
    window.clearTimeout(timer);
    if (switching) return;  // the switch's own request counts what is there now
    timer = window.setTimeout(refresh, 350);
  }

  /* ---- builder or text ---- */
  function setMode(next) {
    mode = next;
    modeInput.value = next;
    form.querySelectorAll("[data-panel]").forEach(function (panel) {
      show(panel, panel.getAttribute("data-panel") === next);
    });
    form.querySelectorAll("[data-mode]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-mode") === next));
    });
  }

  function load(rules) {
    list.innerHTML = "";
    rules.forEach(function (rule) { deck.add(rule); });
    if (!rules.length) deck.add(null);
  }

  /* A switch asks the server for the rules in the other form. A preview scheduled by the
   * last edit must not overtake it (its request would cancel the switch's), so the switch
   * takes that preview's place, and edits made while it is on its way wait for it. */
  function switchTo(next) {
    if (next === mode || switching) return;
    window.clearTimeout(timer);
    var c = collect();
    if (!c.rules.length) { if (next === "builder") load([]); else textarea.value = ""; setMode(next); refresh(); return; }
    if (c.incomplete) { showMissing(c.incomplete); return; }
    switching = true;
    ask(c.rules, c.owners).then(function (body) {
      switching = false;
      if (!body) return;
      if (next === "builder") load(body.definition); else textarea.value = body.rules_text.join("\n");
      setMode(next);
    });
  }

  /* ---- wiring ---- */
  list.addEventListener("input", function (event) {
    var card = event.target.closest("[data-rule]");
    if (card) card.dataset.touched = "1";
    schedule();
  });
  list.addEventListener("change", function (event) {
    var card = event.target.closest("[data-rule]");
    if (card) card.dataset.touched = "1";
    if (event.target.getAttribute("data-field") === "value") delete event.target.dataset.asText;
    if (card) deck.sync(card);
    schedule();
  });
  list.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    if (!button) return;
    var card = button.closest("[data-rule]");
    var action = button.getAttribute("data-action");
    if (action === "add-filter") field(deck.addFilter(card, null), "property").focus();
    if (action === "remove-filter") { button.closest("[data-filter]").remove(); card.querySelector('[data-action="add-filter"]').focus(); }
    if (action === "remove-rule") {
      var next = card.nextElementSibling || card.previousElementSibling;
      card.remove(); deck.renumber();
      (next ? field(next, "kind") : form.querySelector('[data-action="add-rule"]')).focus();
    }
    schedule();
  });
  form.querySelector('[data-action="add-rule"]').addEventListener("click", function () {
    field(deck.add(null), "kind").focus();
    schedule();
  });
  textarea.addEventListener("input", schedule);
  form.querySelectorAll('input[name="match"]').forEach(function (radio) {
    radio.addEventListener("change", function () { deck.renumber(); schedule(); });
  });
  form.querySelectorAll("[data-mode]").forEach(function (button) {
    button.addEventListener("click", function () { switchTo(button.getAttribute("data-mode")); });
  });
  form.addEventListener("submit", function (event) {
    if (mode !== "builder") return;
    var c = collect();
    if (c.incomplete) {
      event.preventDefault();
      showMissing(c.incomplete);
      return;
    }
    jsonInput.value = JSON.stringify(c.rules);
  });

  // A form put back from a draft (app.js) starts from what was sent, not from the page.
  var restored = form.hasAttribute("data-restored");
  var startMode = restored ? modeInput.value : data.mode;
  var initial = [];
  try { initial = JSON.parse((restored ? jsonInput.value : data.rules) || "[]"); } catch (e) { startMode = "text"; }
  if (startMode === "text" || !Array.isArray(initial)) {
    setMode("text");
  } else {
    load(initial);
    setMode("builder");
  }
  // The page was rendered from the rules as they were sent: every card was sent, in order.
  showErrors(data.errors, cards());
  if (!Object.keys(data.errors || {}).length) refresh();
})();
