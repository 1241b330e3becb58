// Auto-refresh for the board and a slice's page: every few seconds the page
// is fetched again and the parts marked data-refresh are replaced when they
// changed; parts marked data-refresh-text (live regions) get their text
// replaced, so that a screen reader announces only a real change. Forms
// are never touched. Updates can be paused (WCAG 2.2.2). A session that
// ended sends the browser to the sign-in page.
//
// A verdict that can no longer be refreshed is stale, and stale is NO-GO
// (DESIGN §2): after STALE_MS without a good answer every slice on the page
// shows NO-GO and says since when the page is stale, paused or not.
(function () {
  'use strict';

  var INTERVAL_MS = 5000;
  var STALE_MS = 3 * INTERVAL_MS;
  var lastGood = Date.now();
  // Times are the server's, in the hospital's location, as on the page.
  var lastGoodStamp = null;
  var regions = document.querySelectorAll('[data-refresh], [data-refresh-text]');
  var status = document.getElementById('refresh-status');
  var toggle = document.getElementById('refresh-toggle');
  var paused = false;
  var timer = null;
  if (status) {
    lastGoodStamp = status.textContent;
  }

  if (regions.length === 0) {
    return;
  }

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function markStaleIfDue() {
    if (Date.now() - lastGood < STALE_MS) {
      return;
    }
    var since = lastGoodStamp || 'the page was loaded';
    var summary = document.getElementById('board-summary');
    if (summary) {
      summary.textContent = 'Stale: not updated since ' + since + '; every slice shows NO-GO until it is.';
    }
    document.querySelectorAll('[data-slice]').forEach(function (el) {
      el.classList.remove('go');
      el.classList.add('nogo');
      var verdict = el.querySelector('.verdict-text');
      if (verdict) {
        verdict.textContent = 'NO-GO';
      }
      var symbol = el.querySelector('.verdict [aria-hidden]');
      if (symbol) {
        symbol.textContent = '\u2716';
      }
      var why = el.querySelector('.why');
      if (why) {
        why.textContent = 'Stale \u2014 this page has not been updated since ' + since + '.';
      }
    });
  }

  function schedule() {
    clearTimeout(timer);
    if (!paused) {
      timer = setTimeout(refresh, INTERVAL_MS);
    }
  }

  function apply(doc) {
    regions.forEach(function (el) {
      var fresh = el.id ? doc.getElementById(el.id) : null;
      if (!fresh) {
        return;
      }
      if (el.hasAttribute('data-refresh-text')) {
        if (fresh.textContent !== el.textContent) {
          el.textContent = fresh.textContent;
        }
      } else if (fresh.innerHTML !== el.innerHTML) {
        el.innerHTML = fresh.innerHTML;
      }
    });
  }

  function refresh() {
    if (document.hidden) {
      schedule();
      return;
    }
    fetch(window.location.href, { credentials: 'same-origin', cache: 'no-store', headers: { 'Accept': 'text/html' } })
      .then(function (resp) {
        if (new URL(resp.url).pathname === '/signin') {
          window.location.assign('/signin');
          return null;
        }
        return resp.text().then(function (html) { return { ok: resp.ok, status: resp.status, html: html }; });
      })
      .then(function (r) {
        if (r === null) {
          return;
        }
        if (!r.ok) {
          say(lastGoodStamp + ' (the last refresh was answered ' + r.status + ')');
          markStaleIfDue();
          return;
        }
        var doc = new DOMParser().parseFromString(r.html, 'text/html');
        apply(doc);
        var fresh = doc.getElementById('refresh-status');
        lastGood = Date.now();
        if (fresh) {
          lastGoodStamp = fresh.textContent;
        }
        say(lastGoodStamp);
      })
      .catch(function () {
        say(lastGoodStamp + ' (the console cannot be reached)');
        markStaleIfDue();
      })
      .then(schedule);
  }

  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener('click', function () {
      paused = !paused;
      toggle.textContent = paused ? 'Resume updates' : 'Pause updates';
      toggle.setAttribute('aria-pressed', paused ? 'true' : 'false');
      if (paused) {
        clearTimeout(timer);
        // A paused page stops being current: it turns NO-GO when stale.
        timer = setTimeout(markStaleIfDue, STALE_MS + 100);
      } else {
        refresh();
      }
    });
    toggle.setAttribute('aria-pressed', 'false');
  }
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden && !paused) {
      refresh();
    }
  });
  schedule();
})();
