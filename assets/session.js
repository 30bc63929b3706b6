/* Every page: when the server says the session is over (401 to a refresh: signed out elsewhere,
   timed out, the account disabled, a display link revoked), say so and go to the sign-in page
   instead of spinning or showing old values as if they were live. */
(function () {
  const original = window.fetch;
  let leaving = false;

  function ended() {
    if (leaving) { return; }
    leaving = true;
    const page = document.querySelector("main[lang]");
    const chinese = page && page.getAttribute("lang") === "zh-CN";
    const banner = document.createElement("div");
    banner.className = "session-ended";
    banner.setAttribute("role", "alert");
    banner.textContent = chinese ? "会话已结束，正在转到登录页……"
      : "This session has ended. Going to the sign-in page…";
    document.body.appendChild(banner);
    const next = encodeURIComponent(window.location.pathname + window.location.search);
    // A moment for anyone looking to read why the screen changes.
    window.setTimeout(function () { window.location.assign("/login?ended=1&next=" + next); }, 2500);
  }

  window.fetch = function () {
    return original.apply(this, arguments).then(function (response) {
      if (response.status === 401) { ended(); }
      return response;
    });
  };
})();
