// Content Studio page behaviour. No inline scripts anywhere: the CSP forbids them, and
// htmx runs with allowEval=false, so keyboard shortcuts live here, not in hx-trigger filters.
"use strict";

(function () {
  function isTyping(el) {
    return !!el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function usable(el) {
    return !!el && !el.disabled && !el.closest("fieldset[disabled]");
  }

  function click(selector) {
    var el = document.querySelector(selector);
    if (usable(el)) { el.click(); return true; }
    return false;
  }

  // Settling copies "style" attributes between old and new elements with setAttribute,
  // which a CSP without 'unsafe-inline' styles blocks (and logs); we never use them.
  if (window.htmx) {
    window.htmx.config.attributesToSettle = ["class", "width", "height"];
  }

  // htmx leaves 4xx answers unswapped; ours carry the page to show (a conflict with both
  // texts, a form with its errors, a throttled form with what was typed), so swap them
  // like a 200.
  document.addEventListener("htmx:beforeSwap", function (ev) {
    var status = ev.detail.xhr.status;
    if (status === 409 || status === 422 || status === 429) {
      ev.detail.shouldSwap = true;
      ev.detail.isError = false;
    }
  });

  // Forms that change what serves everyone (promote, roll back) ask first. ----------
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) ev.preventDefault();
  }, true);

  // Copy approved text in one click (brief page) -----------------------------------
  function copied(button, ok) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = ok ? "Copied ✓" : "Select and copy by hand";
    window.setTimeout(function () { button.textContent = label; }, 2000);
  }
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest && ev.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { copied(button, true); },
        function () { copied(button, false); }
      );
      return;
    }
    // Plain http on a LAN address: no Clipboard API; select the text for the user.
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    copied(button, false);
  });

  // Keyboard help -----------------------------------------------------------------
  function toggleHelp() {
    var dialog = document.getElementById("keys-help");
    if (!dialog) return false;
    if (dialog.open) dialog.close(); else dialog.showModal();
    return true;
  }
  document.addEventListener("click", function (ev) {
    if (ev.target.closest && ev.target.closest("[data-show-keys]")) toggleHelp();
  });

  // Review workspace (one draft) ----------------------------------------------------
  function focusEditor() {
    var area = document.getElementById("draft-text");
    if (!area || area.readOnly) return false;
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
    return true;
  }

  function openReject() {
    var panel = document.getElementById("reject-panel");
    if (!panel || !usable(panel.querySelector("button"))) return false;
    panel.open = true;
    var first = panel.querySelector("input[type=checkbox]");
    if (first) first.focus();
    panel.scrollIntoView({ block: "nearest" });
    return true;
  }

  document.addEventListener("click", function (ev) {
    if (ev.target.closest && ev.target.closest("#reject-toggle")) openReject();
  });

  // Review queue (a list of drafts) -------------------------------------------------
  var current = -1;

  function rows() {
    return Array.prototype.slice.call(
      document.querySelectorAll("#queue-results .queue-row:not(.decided):not(.refused)"));
  }

  function highlight(index) {
    var list = rows();
    if (!list.length) return false;
    current = Math.max(0, Math.min(index, list.length - 1));
    list.forEach(function (row, i) { row.classList.toggle("is-current", i === current); });
    list[current].scrollIntoView({ block: "nearest" });
    return true;
  }

  function currentRow() {
    var list = rows();
    if (current < 0 && list.length) highlight(0);
    return list[current] || null;
  }

  function openRow(hash) {
    var row = currentRow();
    if (!row) return false;
    window.location.assign(row.dataset.reviewUrl + (hash || ""));
    return true;
  }

  document.addEventListener("change", function (ev) {
    if (ev.target.matches && ev.target.matches("[data-select-all]")) {
      document.querySelectorAll("#queue-results input[name=drafts]").forEach(function (box) {
        box.checked = ev.target.checked;
      });
    }
  });

  document.addEventListener("htmx:afterSwap", function (ev) {
    if (ev.detail.target && ev.detail.target.id === "queue-results") current = -1;
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (window.location.hash === "#reject") openReject();
  });

  // One keydown handler for every page ----------------------------------------------
  document.addEventListener("keydown", function (ev) {
    var target = ev.target;
    // Right after the keys dialog closes, focus can still sit on its (now hidden) Close
    // button until the browser's focus fix-up runs: treat such keys as page keys.
    if (target && target.closest && target.closest("dialog:not([open])")) {
      target.blur();
      target = document.body;
    }
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter" && target && target.id === "draft-text") {
      ev.preventDefault();
      click("#approve-btn");
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "Escape") {
      if (isTyping(target)) target.blur();
      return;
    }
    var panel = document.getElementById("reject-panel");
    if (panel && panel.open && target && target.closest && target.closest("#reject-panel")
        && /^[1-9]$/.test(ev.key) && target.tagName !== "TEXTAREA") {
      var box = panel.querySelector("[data-reason-index='" + ev.key + "']");
      if (box) { box.checked = !box.checked; box.focus(); ev.preventDefault(); }
      return;
    }
    if (target && target.type === "checkbox" && target.closest("#reject-panel")) {
      if (ev.key === "Enter") { ev.preventDefault(); click("#reject-btn"); }
      return;
    }
    if (isTyping(target) && target.type !== "checkbox") return;
    var workspace = document.getElementById("workspace");
    var queue = document.getElementById("queue-results");
    var handled = false;
    switch (ev.key) {
      case "?": handled = toggleHelp(); break;
      case "j": handled = workspace ? click("#next-draft") : (queue ? highlight(current + 1) : false); break;
      case "k": handled = workspace ? click("#prev-draft") : (queue ? highlight(current - 1) : false); break;
      case "a":
        if (workspace) handled = click("#approve-btn");
        else if (queue) { var row = currentRow(); handled = !!row && click("#" + row.id + " .row-approve"); }
        break;
      case "e": handled = workspace ? focusEditor() : (queue ? openRow("") : false); break;
      case "s": handled = workspace ? click("#save-btn") : false; break;
      case "r": handled = workspace ? openReject() : (queue ? openRow("#reject") : false); break;
      case "o": case "Enter":
        if (queue && !workspace && target.tagName !== "A" && target.tagName !== "BUTTON") handled = openRow("");
        break;
      case "x":
        if (queue) {
          var selected = currentRow();
          var check = selected && selected.querySelector("input[name=drafts]");
          if (check) { check.checked = !check.checked; handled = true; }
        }
        break;
    }
    if (handled) ev.preventDefault();
  });
})();
