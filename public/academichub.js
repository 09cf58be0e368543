// AcademicHub page behaviour that Chainlit's configuration cannot express (loaded via custom_js).
// Only page chrome lives here: it reads no message text and inserts no markup from messages.
(function () {
  "use strict";

  // The page's language: the server's ACADEMICHUB_LANGUAGE when set (passed as ?lang= on this script's
  // address), else the browser's, as Chainlit picks its own translation. Chinese or English.
  var script = document.currentScript;
  var forced = script && script.src ? /[?&]lang=([A-Za-z-]+)/.exec(script.src) : null;
  var language = forced ? forced[1] : navigator.language || "en";
  var ZH = language.toLowerCase().indexOf("zh") === 0;

  // `name` is the chat profile's name (Chainlit's id for it); `label` what the page shows (its display name).
  var PROFILES = ZH
    ? [
        { name: "Ask", label: "提问", hint: "带引用的回答" },
        { name: "Briefing", label: "简报", hint: "跨领域" },
        { name: "Radar", label: "雷达", hint: "每日新论文" },
      ]
    : [
        { name: "Ask", label: "Ask", hint: "cited answers" },
        { name: "Briefing", label: "Briefing", hint: "across fields" },
        { name: "Radar", label: "Radar", hint: "new papers daily" },
      ];
  var PLACEHOLDERS = ZH
    ? {
        Ask: "就已索引的论文提问，例如：哪些论文用扩散模型做图像编辑？",
        Briefing: "输入主题，获得带引用的跨领域简报，例如：图神经网络",
        Radar: "询问有什么新论文（搜索近期论文），或输入 track: <主题> 保存主题",
      }
    : {
        Ask: "Ask about the indexed papers, e.g. which papers use diffusion models?",
        Briefing: "Type a topic for a cited cross-field briefing, e.g. graph neural networks",
        Radar: "Ask what is new (searches recent papers) or type track: <topic> to save one",
      };
  // Where the full text does not fit on the input's one line (a phone), a shorter one: a cut-off
  // placeholder hides what to type.
  var SHORT_PLACEHOLDERS = ZH
    ? {
        Ask: "就已索引的论文提问",
        Briefing: "输入主题，获得跨领域简报",
        Radar: "问有什么新论文，或 track: <主题>",
      }
    : {
        Ask: "Ask about the indexed papers",
        Briefing: "Type a topic for a briefing",
        Radar: "Ask what is new, or track: <topic>",
      };
  var NAME = "AcademicHub";
  // Our mark, beside the script in /public (also under a root path).
  var MARK_URL = script && script.src ? new URL("favicon.svg", script.src).href : "/public/favicon.svg";
  // The active Settings filters beside the input: the server sends them with Chainlit's
  // send_window_message (assistant/ui/chat_view.py `filters_window_message`) whenever they change or
  // a chat starts; Chainlit posts it to window.parent, which is this window when the app is not embedded.
  var FILTERS_MESSAGE = "academichub:filters";
  var activeFilters = { label: "", chips: [] };
  // After an answer Chainlit adds its action buttons below the text without scrolling to them. The chat
  // follows its end as content is added, from a question sent until the reader scrolls up (a scroll
  // up is the reader's: Chainlit's own scrolls go down), and again once the reader is back at the end.
  var END_SLACK_PX = 16;
  var chat = { scroller: null, following: true, lastTop: 0 };
  var README_TITLES = ["Readme", "说明"]; // Chainlit's header button, in en-US.json and zh-CN.json
  // A citation click opens the side panel; Chainlit also opens it by itself whenever a message brings new
  // side elements (title = the last element's name over every source of the thread). A panel that opens
  // without a citation click in the last moment is that automatic one, and is closed at once.
  var CLICK_WINDOW_MS = 1500;
  var lastCitationClick = 0;

  function currentProfile() {
    var button = document.getElementById("chat-profiles");
    var text = button ? button.textContent || "" : "";
    for (var i = 0; i < PROFILES.length; i++) {
      if (text.indexOf(PROFILES[i].label) !== -1 || text.indexOf(PROFILES[i].name) !== -1) {
        return PROFILES[i].name;
      }
    }
    return "Ask";
  }

  // Radix dialogs and sheets carry a close button labelled (for screen readers) "Close".
  function closeButtonOf(dialog) {
    var buttons = dialog.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) {
      var label = buttons[i].querySelector(".sr-only");
      if (label && label.textContent === "Close") return buttons[i];
    }
    return null;
  }

  function closeSidePanel() {
    var title = document.getElementById("side-view-title");
    if (!title) return;
    var dialog = title.closest('[role="dialog"]');
    var close = dialog ? closeButtonOf(dialog) : title.querySelector("button");
    if (close) close.click();
  }

  // Escape closes the source panel (desktop and phone) and the full-screen Readme dialog, which in this
  // Chainlit version ignore it.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    if (document.getElementById("side-view-title")) {
      closeSidePanel();
      return;
    }
    var readme = document.querySelectorAll('[role="dialog"]');
    for (var i = 0; i < readme.length; i++) {
      var heading = readme[i].querySelector("h2");
      if (heading && README_TITLES.indexOf(heading.textContent) !== -1) {
        var close = closeButtonOf(readme[i]);
        if (close) close.click();
      }
    }
  });

  // The search input of the settings' open Fields list, or null. Chainlit's multi-select (a cmdk menu)
  // shows its list while that input has focus, and closes it on blur.
  function openSettingsList() {
    var input = document.activeElement;
    if (!input || !input.matches || !input.matches("#chat-settings [cmdk-input]")) return null;
    var menu = input.closest("[cmdk-root]");
    return menu && menu.querySelector("[cmdk-list]") ? input : null;
  }

  // Escape in the open Fields list closes the list only. Radix's dialog hears Escape first (on the
  // document, capture phase) and closes the whole dialog, dropping the fields just picked; the window's
  // capture phase comes before it. A second Escape, with the list closed, closes the dialog as usual.
  window.addEventListener(
    "keydown",
    function (event) {
      if (event.key !== "Escape") return;
      var input = openSettingsList();
      if (!input) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      input.blur();
    },
    true
  );

  // The Fields list opens in the form's flow (academichub.css), possibly below the dialog's visible part:
  // brought into view once, when it opens.
  function ensureSettingsListInView() {
    var list = document.querySelector("#chat-settings [cmdk-list]");
    if (!list || list.dataset.academichubShown) return;
    list.dataset.academichubShown = "1";
    list.scrollIntoView({ block: "nearest" });
  }

  var lastPanelTitle = null;
  function checkSidePanel() {
    var title = document.getElementById("side-view-title");
    var text = title ? title.textContent : null;
    if (text === lastPanelTitle) return;
    lastPanelTitle = text;
    if (title && Date.now() - lastCitationClick > CLICK_WINDOW_MS) closeSidePanel();
  }

  document.addEventListener(
    "click",
    function (event) {
      var target = event.target;
      if (target && target.closest && target.closest("a.element-link")) lastCitationClick = Date.now();
      if (target && target.closest && target.closest("#chat-submit, #starters button")) chat.following = true;
    },
    true
  );
  // A new question closes the panel: it never shows a paper of an older message over a new answer.
  document.addEventListener(
    "keydown",
    function (event) {
      if (event.key === "Enter" && !event.shiftKey && event.target && event.target.id === "chat-input") {
        closeSidePanel();
        chat.following = true;
      }
    },
    true
  );

  // A mode is Chainlit's chat profile, chosen with its header dropdown: our tabs pick the same item in it.
  // After the first message Chainlit asks first (its "new chat" dialog): a profile holds for a whole chat.
  // The dropdown's list is hidden meanwhile (academichub.css), so a tab click shows no list flashing by.
  function switchProfile(name) {
    var select = document.getElementById("chat-profiles");
    if (!select || currentProfile() === name) return;
    var root = document.documentElement;
    root.classList.add("academichub-switching");
    select.click();
    setTimeout(function () {
      var item = document.querySelector('[data-test="select-item:' + name + '"]');
      if (item) item.click();
      root.classList.remove("academichub-switching"); // not found: the list shows, to pick by hand
    }, 50);
  }

  // A row of the three modes as toggle buttons; `withHints` adds each mode's line under its name.
  function modeTabs(id, withHints) {
    var nav = document.createElement("nav");
    nav.id = id;
    nav.setAttribute("aria-label", ZH ? "模式" : "Modes");
    PROFILES.forEach(function (profile) {
      var tab = document.createElement("button");
      tab.type = "button";
      tab.className = "academichub-tab";
      tab.dataset.profile = profile.name;
      var name = document.createElement("strong");
      name.textContent = profile.label;
      tab.appendChild(name);
      if (withHints) {
        var hint = document.createElement("span");
        hint.textContent = profile.hint;
        tab.appendChild(hint);
      } else {
        tab.title = profile.hint; // the hint on hover where there is no room to show it
      }
      tab.addEventListener("click", function () {
        switchProfile(profile.name);
      });
      nav.appendChild(tab);
    });
    return nav;
  }

  function markCurrentTab(nav) {
    var current = currentProfile();
    nav.querySelectorAll(".academichub-tab").forEach(function (tab) {
      var selected = tab.dataset.profile === current ? "true" : "false";
      if (tab.getAttribute("aria-pressed") !== selected) tab.setAttribute("aria-pressed", selected);
    });
  }

  // The big tabs with hints above the starters of the first page (gone with the starters).
  function ensureTabs() {
    var starters = document.getElementById("starters");
    var existing = document.getElementById("academichub-tabs");
    if (!starters) {
      if (existing) existing.remove();
      return;
    }
    if (!existing || existing.nextSibling !== starters) {
      if (existing) existing.remove();
      existing = modeTabs("academichub-tabs", true);
      starters.parentNode.insertBefore(existing, starters);
    }
    markCurrentTab(existing);
  }

  // The compact mode switch in the header, in place of Chainlit's dropdown (hidden by academichub.css
  // while the switch is there): it stays through the chat, where the first page's tabs are gone, and
  // shows every mode where the dropdown shows only the current one.
  function ensureHeaderSwitch() {
    var select = document.getElementById("chat-profiles");
    var existing = document.getElementById("academichub-mode-switch");
    var holder = select ? select.parentElement : null;
    if (existing && (!holder || existing.previousSibling !== holder)) {
      existing.remove();
      existing = null;
    }
    if (!holder) return;
    if (!existing) {
      existing = modeTabs("academichub-mode-switch", false);
      holder.parentNode.insertBefore(existing, holder.nextSibling);
    }
    markCurrentTab(existing);
  }

  var measuring = null;
  function fitsOnOneLine(input, text) {
    var style = getComputedStyle(input);
    var room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    if (room <= 0) return true; // not laid out yet: decided again on the next change
    measuring = measuring || document.createElement("canvas").getContext("2d");
    measuring.font = [style.fontStyle, style.fontWeight, style.fontSize, style.fontFamily].join(" ");
    return measuring.measureText(text).width <= room;
  }

  function setPlaceholder() {
    var input = document.getElementById("chat-input");
    var profile = currentProfile();
    var wanted = PLACEHOLDERS[profile];
    if (!input || !wanted) return;
    if (!fitsOnOneLine(input, wanted)) wanted = SHORT_PLACEHOLDERS[profile];
    if (input.getAttribute("placeholder") !== wanted) input.setAttribute("placeholder", wanted);
  }

  function brand(id) {
    var element = document.createElement("div");
    element.id = id;
    element.className = "academichub-brand";
    var mark = document.createElement("img");
    mark.src = MARK_URL;
    mark.alt = "";
    var name = document.createElement("span");
    name.textContent = NAME;
    element.appendChild(mark);
    element.appendChild(name);
    return element;
  }

  // The name in the header's empty middle slot (shown on wide screens), and on the first page above the
  // mode tabs on narrow ones, where the header has no room beside the mode picker (see academichub.css).
  // Not atop the welcome screen: Chainlit centres it under the header, which hides its top on a phone.
  function ensureBrand() {
    var header = document.getElementById("header");
    if (header && !document.getElementById("academichub-brand")) {
      for (var i = 0; i < header.children.length; i++) {
        var slot = header.children[i];
        if (!slot.className && slot.childElementCount === 0 && !slot.textContent) {
          slot.appendChild(brand("academichub-brand"));
          break;
        }
      }
    }
    var tabs = document.getElementById("academichub-tabs");
    var welcomeBrand = document.getElementById("academichub-welcome-brand");
    if (!tabs) {
      if (welcomeBrand) welcomeBrand.remove();
    } else if (!welcomeBrand || welcomeBrand.nextSibling !== tabs) {
      if (welcomeBrand) welcomeBrand.remove();
      tabs.parentNode.insertBefore(brand("academichub-welcome-brand"), tabs);
    }
  }

  window.addEventListener("message", function (event) {
    if (event.source !== window || event.origin !== window.location.origin) return;
    var data = event.data;
    if (!data || data.type !== FILTERS_MESSAGE || !Array.isArray(data.chips)) return;
    activeFilters = { label: String(data.label || ""), chips: data.chips.map(String) };
    schedule();
  });

  // The chips go right after the settings button, inside the input's box; drawn as text only.
  function ensureFilterChips() {
    var settings = document.getElementById("chat-settings-open-modal");
    var existing = document.getElementById("academichub-filters");
    var key = JSON.stringify(activeFilters);
    if (existing && (!settings || existing.previousSibling !== settings || existing.dataset.key !== key)) {
      existing.remove();
      existing = null;
    }
    if (existing || !settings || activeFilters.chips.length === 0) return;
    var row = document.createElement("div");
    row.id = "academichub-filters";
    row.setAttribute("role", "status");
    row.dataset.key = key;
    var label = document.createElement("span");
    label.className = "academichub-filters-label";
    label.textContent = activeFilters.label;
    row.appendChild(label);
    activeFilters.chips.forEach(function (text) {
      var chip = document.createElement("span");
      chip.className = "academichub-filter-chip";
      chip.textContent = text;
      row.appendChild(chip);
    });
    settings.parentNode.insertBefore(row, settings.nextSibling);
  }

  // The element Chainlit scrolls the messages in: the nearest scrolling ancestor of a message.
  function chatScroller() {
    if (chat.scroller && chat.scroller.isConnected) return chat.scroller;
    chat.scroller = null;
    var step = document.querySelector("[data-step-type]");
    for (var node = step ? step.parentElement : null; node; node = node.parentElement) {
      var overflow = getComputedStyle(node).overflowY;
      if (overflow === "auto" || overflow === "scroll") {
        chat.scroller = node;
        chat.lastTop = node.scrollTop;
        break;
      }
    }
    return chat.scroller;
  }

  function showsEnd(scroller) {
    return scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - END_SLACK_PX;
  }

  document.addEventListener(
    "scroll",
    function (event) {
      var scroller = chat.scroller;
      if (!scroller || event.target !== scroller) return;
      if (showsEnd(scroller)) chat.following = true;
      else if (scroller.scrollTop < chat.lastTop - 1) chat.following = false;
      chat.lastTop = scroller.scrollTop;
    },
    true
  );

  function keepEndInView() {
    var scroller = chatScroller();
    if (scroller && chat.following && !showsEnd(scroller)) {
      scroller.scrollTop = scroller.scrollHeight;
      chat.lastTop = scroller.scrollTop;
    }
  }

  var scheduled = false;
  function refresh() {
    scheduled = false;
    checkSidePanel();
    ensureTabs();
    ensureHeaderSwitch();
    ensureSettingsListInView();
    setPlaceholder();
    ensureBrand();
    ensureFilterChips();
    keepEndInView();
  }
  function schedule() {
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(refresh);
    }
  }
  new MutationObserver(schedule).observe(document.documentElement, {
    childList: true,
    subtree: true,
    characterData: true,
  });
  window.addEventListener("resize", schedule); // the placeholder that fits depends on the input's width
})();
