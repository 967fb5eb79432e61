/* Rule cards: the builder's form of one rule, to and from the API's JSON rule objects.
 *
 * A card is cloned from the page's <template>, its controls labelled, and shows only the
 * fields its kind of rule takes. `read` turns a card back into a JSON rule, with the first
 * required field left empty (if any), so the page can point at it instead of sending it.
 * A value in plain digits is sent as a number, as the rule text does; one in quotes is sent
 * as the text inside them; text that looks like a number but was loaded as text ("02139")
 * stays text until it is edited. A compared value that reads as a number in another
 * spelling ("100,000", "1e5", "+3") is pointed out rather than sent as text, where it would
 * compare letter by letter: the rule text refuses it the same way.
 */
(function () {
  "use strict";
  var NUMBER = /^-?[0-9]+(\.[0-9]+)?$/;
  var QUOTED = /^(["'])([\s\S]*)\1$/;
  var GROUPED = /^[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$/;
  var SPELLED = /^[+-]?(\p{Nd}(_?\p{Nd})*(\.(\p{Nd}(_?\p{Nd})*)?)?|\.\p{Nd}(_?\p{Nd})*)([eE][+-]?\p{Nd}(_?\p{Nd})*)?$/u;
  var SPELLING = "Write the number in plain digits, like 100000, or put the value in quotes to compare it as text.";
  function readsAsNumber(text) { return GROUPED.test(text) || SPELLED.test(text); }
  var SET_OPS = ["is set", "is not set"];
  var uid = 0;

  window.gurulu = window.gurulu || {};
  window.gurulu.ruleCards = function (list, cohorts, matchValue) {
    var ruleTpl = document.getElementById("rule-template");
    var filterTpl = document.getElementById("filter-template");

    // Each control gets an id and its label a `for`, so that every clone is labelled.
    function label(clone) {
      clone.querySelectorAll(".field").forEach(function (box) {
        var control = box.querySelector("input, select, textarea");
        control.id = "builder-" + (++uid);
        box.querySelector("label").htmlFor = control.id;
      });
      return clone;
    }

    function field(root, name) { return root.querySelector('[data-field="' + name + '"]'); }
    function value(root, name) { return field(root, name).value.trim(); }
    function cards() { return Array.prototype.slice.call(list.querySelectorAll("[data-rule]")); }

    function addRule(rule) {
      var card = label(ruleTpl.content.firstElementChild.cloneNode(true));
      var select = field(card, "cohort");
      cohorts.forEach(function (c) { select.add(new Option(c.name, c.id)); });
      list.appendChild(card);
      if (rule) { setRule(card, rule); card.dataset.touched = "1"; }
      sync(card);
      renumber();
      return card;
    }

    function addFilter(card, filter) {
      var row = label(filterTpl.content.firstElementChild.cloneNode(true));
      card.querySelector("[data-filter-list]").appendChild(row);
      if (filter) setCondition(row, filter);
      sync(card);
      return row;
    }

    function setCondition(root, c) {
      field(root, "property").value = c.property;
      field(root, "op").value = c.op;
      var input = field(root, "value");
      input.value = c.value === null || c.value === undefined ? "" : String(c.value);
      // Text that looks like a number stays text, as it was written ("02139").
      if (typeof c.value === "string" && readsAsNumber(c.value)) input.dataset.asText = "1";
    }

    function setRule(card, rule) {
      field(card, "kind").value = (rule.negate ? "not-" : "") + rule.type;
      if (rule.type === "event") {
        field(card, "event").value = rule.event;
        field(card, "count_op").value = rule.count ? rule.count.op : "";
        field(card, "count_value").value = rule.count ? rule.count.value : "";
        var within = /^([0-9]+)([mhdw])$/.exec(rule.within || "");
        field(card, "window").value = within ? "in" : "";
        if (within) { field(card, "window_value").value = within[1]; field(card, "window_unit").value = within[2]; }
        (rule.where || []).forEach(function (f) { addFilter(card, f); });
      } else if (rule.type === "person") {
        setCondition(card.querySelector('[data-kind="person"]'), rule);
      } else {
        var select = field(card, "cohort");
        var byName = cohorts.filter(function (c) { return c.name === rule.cohort; })[0];
        select.value = rule.cohort_id || (byName ? byName.id : "");
      }
    }

    function show(el, visible) { el.hidden = !visible; }

    function sync(card) {
      var type = field(card, "kind").value.replace("not-", "");
      card.querySelectorAll("[data-kind]").forEach(function (body) {
        show(body, body.getAttribute("data-kind") === type);
      });
      show(card.querySelector('[data-when="count"]'), field(card, "count_op").value !== "");
      card.querySelectorAll('[data-when="window"]').forEach(function (el) {
        show(el, field(card, "window").value === "in");
      });
      card.querySelectorAll('[data-kind="person"], [data-filter]').forEach(function (root) {
        show(root.querySelector('[data-when="value"]'), SET_OPS.indexOf(field(root, "op").value) < 0);
      });
    }

    function renumber() {
      list.className = "rules rules--" + matchValue();
      cards().forEach(function (card, i) {
        card.querySelector("[data-rule-number]").textContent = "Rule " + (i + 1);
        card.querySelector('[data-action="remove-rule"]').setAttribute("aria-label", "Remove rule " + (i + 1));
      });
    }

    // The value to send, and whether it is one to point out (see the top).
    function scalar(input, compared) {
      var text = input.value.trim(), quoted = QUOTED.exec(text);
      if (quoted) return { value: quoted[2] };
      if (input.dataset.asText) return { value: text };
      if (NUMBER.test(text)) return { value: Number(text) };
      return { value: text, misspelt: compared && readsAsNumber(text) };
    }

    function condition(root, missing, problems) {
      var c = { property: value(root, "property"), op: field(root, "op").value };
      if (!c.property) missing.push(field(root, "property"));
      if (SET_OPS.indexOf(c.op) < 0) {
        var input = field(root, "value"), read = scalar(input, c.op !== "contains");
        if (!value(root, "value")) missing.push(input);
        if (read.misspelt) problems.push({ el: input, text: SPELLING });
        c.value = read.value;
      }
      return c;
    }

    function readRule(card) {
      var kind = field(card, "kind").value, missing = [], problems = [];
      var type = kind.replace("not-", ""), negate = kind !== type;
      var rule;
      if (type === "event") {
        rule = { type: "event", event: value(card, "event"), negate: negate, count: null, within: null, where: [] };
        if (!rule.event) missing.push(field(card, "event"));
        if (field(card, "count_op").value) {
          if (value(card, "count_value") === "") missing.push(field(card, "count_value"));
          rule.count = { op: field(card, "count_op").value, value: Number(value(card, "count_value")) };
        }
        if (field(card, "window").value === "in") {
          if (value(card, "window_value") === "") missing.push(field(card, "window_value"));
          rule.within = value(card, "window_value") + field(card, "window_unit").value;
        }
        card.querySelectorAll("[data-filter]").forEach(function (row) { rule.where.push(condition(row, missing, problems)); });
      } else if (type === "person") {
        rule = condition(card.querySelector('[data-kind="person"]'), missing, problems);
        rule.type = "person"; rule.negate = negate;
      } else {
        var select = field(card, "cohort");
        if (!select.value) missing.push(select);
        rule = { type: "cohort", cohort: select.value ? select.selectedOptions[0].text : "", cohort_id: select.value || null, negate: negate };
      }
      return { rule: rule, missing: missing[0] || null, problem: problems[0] || null };
    }

    // The control a server error names by its JSON path ("within", "count.value",
    // "where.1.op"), if it is on show; else null.
    var PATHS = { within: "window_value", "count.value": "count_value", "count.op": "count_op", count: "count_op", cohort_id: "cohort", type: "kind", negate: "kind" };
    function control(card, path) {
      var parts = String(path || "").split("."), root = card;
      if (parts[0] === "where") {
        root = card.querySelectorAll("[data-filter]")[Number(parts[1])];
        parts = parts.slice(2);
      } else if (["property", "op", "value"].indexOf(parts[0]) >= 0) {
        root = card.querySelector('[data-kind="person"]');
      }
      var name = PATHS[parts.join(".")] || PATHS[parts[0]] || parts[0];
      var el = root && name ? field(root, name) : null;
      return el && !el.closest("[hidden]") ? el : null;
    }

    return {
      add: addRule, addFilter: addFilter, read: readRule, sync: sync,
      renumber: renumber, cards: cards, field: field, control: control,
    };
  };
})();
