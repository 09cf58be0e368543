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
    },
    true
  );
  // A new question closes the panel: it never shows a paper of an older message over a new answer.
  document.addEventListener(
    "keydown",
    function (event) {
      if (event.key === "Enter" && !event.shiftKey && event.target && event.target.id === "chat-input") {
        closeSidePanel();
      }
    },
    true
  );

  function switchProfile(name) {
    var select = document.getElementById("chat-profiles");
    if (!select || currentProfile() === name) return;
    select.click();
    setTimeout(function () {
      var item = document.querySelector('[data-test="select-item:' + name + '"]');
      if (item) item.click();
    }, 50);
  }

  function ensureTabs() {
    var starters = document.getElementById("starters");
    var existing = document.getElementById("academichub-tabs");
    if (!starters) {
      if (existing) existing.remove();
      return;
    }
    var current = currentProfile();
    if (!existing || existing.nextSibling !== starters) {
      if (existing) existing.remove();
      existing = document.createElement("nav");
      existing.id = "academichub-tabs";
      existing.setAttribute("aria-label", ZH ? "模式" : "Modes");
      PROFILES.forEach(function (profile) {
        var tab = document.createElement("button");
        tab.type = "button";
        tab.className = "academichub-tab";
        tab.dataset.profile = profile.name;
        var name = document.createElement("strong");
        name.textContent = profile.label;
        var hint = document.createElement("span");
        hint.textContent = profile.hint;
        tab.appendChild(name);
        tab.appendChild(hint);
        tab.addEventListener("click", function () {
          switchProfile(profile.name);
        });
        existing.appendChild(tab);
      });
      starters.parentNode.insertBefore(existing, starters);
    }
    existing.querySelectorAll(".academichub-tab").forEach(function (tab) {
      var selected = tab.dataset.profile === current;
      tab.setAttribute("aria-pressed", selected ? "true" : "false");
    });
  }

  function setPlaceholder() {
    var input = document.getElementById("chat-input");
    var wanted = PLACEHOLDERS[currentProfile()];
    if (input && wanted && input.getAttribute("placeholder") !== wanted) {
      input.setAttribute("placeholder", wanted);
    }
  }

  var scheduled = false;
  function refresh() {
    scheduled = false;
    checkSidePanel();
    ensureTabs();
    setPlaceholder();
  }
  new MutationObserver(function () {
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(refresh);
    }
  }).observe(document.documentElement, { childList: true, subtree: true, characterData: true });
})();
