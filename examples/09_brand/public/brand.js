// The app's own script, loaded after lightchat's (allowed by the page's policy: same origin).
document.documentElement.setAttribute("data-brand", "harbour");
