/* Gurulu Audiences: the little script every page shares.
 *
 * - Live regions: a page whose <main> has data-live-url and data-live-busy="true" (a
 *   refresh or a sync is queued or running) polls that URL every two seconds; the answer
 *   carries HTML for each [data-live-region], rendered on the server by the same templates
 *   as the page. Polling stops as soon as nothing is in flight. Focus inside a replaced
 *   region is put back on the same link or button, and a disclosure (<details id>) that
 *   was open stays open. What is announced while it runs and when it ends can be set with
 *   data-live-busy-text and data-live-done-text.
 * - Relative times: <time data-relative> is rewritten every 30 s ("3 min ago"), with the
 *   same rules as the server.
 * - Menus close on Escape and on a click outside them.
 * - Drafts: what a form marked data-draft holds when it is sent is kept in this tab's
 *   session storage (never a password field or the CSRF token). It is put back only when
 *   the page the browser comes back to says that the change was not made
 *   ([data-restore-drafts]: the session had ended, or the form was older than it); any
 *   other visit to the form's page drops it.
 */
(function () {
  "use strict";
  document.documentElement.classList.replace("no-js", "js");

  var POLL_MS = 2000;

  function amount(seconds) {
    var minutes = Math.round(seconds / 60);
    if (minutes < 60) return Math.max(minutes, 1) + " min";
    var hours = Math.round(seconds / 3600);
    if (hours < 24) return hours + " h";
    var days = Math.round(seconds / 86400);
    if (days < 60) return days === 1 ? "1 day" : days + " days";
    var months = Math.round(days / 30);
    return months < 24 ? months + " months" : Math.round(days / 365) + " years";
  }

  function relative(iso) {
    var seconds = (Date.now() - Date.parse(iso)) / 1000;
    var future = seconds < 0;
    seconds = Math.abs(seconds);
    if (seconds < 45) return future ? "in a moment" : "just now";
    return future ? "in " + amount(seconds) : amount(seconds) + " ago";
  }

  function refreshTimes(root) {
    (root || document).querySelectorAll("time[data-relative]").forEach(function (el) {
      var text = relative(el.getAttribute("datetime"));
      if (el.textContent !== text) el.textContent = text;
    });
  }

  function announce(text) {
    var status = document.getElementById("live-status");
    if (status) status.textContent = text;
  }

  function focusKey(el) {
    if (!el || el === document.body) return null;
    return el.getAttribute("href") || el.id || null;
  }

  function replaceRegion(region, html) {
    if (region.innerHTML === html) return;
    var active = region.contains(document.activeElement) ? focusKey(document.activeElement) : null;
    var open = Array.prototype.map.call(region.querySelectorAll("details[open][id]"), function (el) {
      return el.id;
    });
    region.innerHTML = html;
    open.forEach(function (id) {
      var again = document.getElementById(id);
      if (again && region.contains(again)) again.open = true;
    });
    refreshTimes(region);
    if (!active) return;
    var again = region.querySelector('[href="' + CSS.escape(active) + '"]') ||
      document.getElementById(active);
    if (again) again.focus();
  }

  function startLive(main) {
    var url = main.getAttribute("data-live-url");
    var wasBusy = main.getAttribute("data-live-busy") === "true";
    if (!url || !wasBusy) return;
    var busyText = main.getAttribute("data-live-busy-text") ||
      "A refresh is running. This page updates when it finishes.";
    var doneText = main.getAttribute("data-live-done-text") ||
      "Refresh finished. The numbers on this page are up to date.";

    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (response.status === 401) {
            window.location.assign("/app/login?next=" + encodeURIComponent(location.pathname));
            return null;
          }
          return response.ok ? response.json() : null;
        })
        .then(function (body) {
          if (body) {
            Object.keys(body.regions).forEach(function (name) {
              var region = main.querySelector('[data-live-region="' + name + '"]');
              if (region) replaceRegion(region, body.regions[name]);
            });
            main.setAttribute("data-live-busy", body.busy ? "true" : "false");
            if (!body.busy) {
              announce(doneText);
              return;
            }
          }
          window.setTimeout(tick, POLL_MS);
        })
        .catch(function () { window.setTimeout(tick, POLL_MS * 2); });
    }
    announce(busyText);
    window.setTimeout(tick, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var main = document.getElementById("main");
    if (main) startLive(main);
    window.setInterval(refreshTimes, 30000);
  });

  // Menus (<details class="menu">) close as menus do: on Escape, which gives focus back to
  // their button, and on a click anywhere outside them.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.open = false;
      menu.querySelector("summary").focus();
    });
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.open = false;
    });
  });

  var DRAFT_PREFIX = "gurulu.draft:";
  var DRAFT_MAX_AGE_MS = 24 * 3600 * 1000;

  function draftKey(form) {
    return DRAFT_PREFIX + (form.getAttribute("action") || location.pathname).split("#")[0];
  }

  function drafted(el) {
    return el.name && el.name !== "csrf_token" && el.type !== "password" &&
      el.type !== "file" && el.type !== "submit" && el.type !== "button";
  }

  function checkable(el) { return el.type === "radio" || el.type === "checkbox"; }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    // Listeners on the form itself have run by now (the builder writes its rules there).
    if (event.defaultPrevented || !form.hasAttribute("data-draft")) return;
    var fields = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (drafted(el)) fields.push([el.name, el.value, checkable(el) ? el.checked : null]);
    });
    try {
      sessionStorage.setItem(draftKey(form), JSON.stringify({ at: Date.now(), fields: fields }));
    } catch (e) { /* storage full or refused: the form is sent all the same */ }
  });

  function restoreDraft(form, draft) {
    var seen = {};
    draft.fields.forEach(function (field) {
      var name = field[0], value = field[1], checked = field[2];
      var same = Array.prototype.filter.call(form.elements, function (el) {
        return el.name === name && drafted(el);
      });
      if (checked !== null) {
        same.forEach(function (el) { if (checkable(el) && el.value === value) el.checked = checked; });
        return;
      }
      var plain = same.filter(function (el) { return !checkable(el); });
      var index = seen[name] || 0;
      seen[name] = index + 1;
      if (plain[index]) plain[index].value = value;
    });
    form.setAttribute("data-restored", "");
    for (var box = form.closest("details"); box; box = box.parentElement && box.parentElement.closest("details")) {
      box.open = true;
    }
  }

  function restoreDrafts() {
    var notice = document.querySelector("[data-restore-drafts]");
    var restored = false;
    document.querySelectorAll("form[data-draft]").forEach(function (form) {
      var draft = null;
      try {
        draft = JSON.parse(sessionStorage.getItem(draftKey(form)) || "null");
        sessionStorage.removeItem(draftKey(form));
      } catch (e) { return; }
      if (!notice || !draft || !Array.isArray(draft.fields)) return;
      if (Date.now() - draft.at > DRAFT_MAX_AGE_MS) return;
      restoreDraft(form, draft);
      restored = true;
    });
    if (restored) {
      var text = notice.querySelector("p");
      text.textContent += " What you typed is back in the form.";
    }
  }

  // Deferred, so the page is parsed, and before the page's own scripts (the builder reads
  // the restored fields when it starts).
  restoreDrafts();

  // Shared with builder.js: JSON requests carry the session's CSRF token.
  window.gurulu = Object.assign(window.gurulu || {}, {
    csrfToken: function () {
      var input = document.querySelector('input[name="csrf_token"]');
      return input ? input.value : "";
    },
    postJson: function (url, body, signal) {
      return fetch(url, {
        method: "POST",
        credentials: "same-origin",
        signal: signal,
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRF-Token": window.gurulu.csrfToken(),
        },
        body: JSON.stringify(body),
      });
    },
  });
})();
