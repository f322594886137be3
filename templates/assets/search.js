// factsite search page: runs the query in the address (?q=…&verdict=…&company=…) on the
// Pagefind index built with the site (in shards), or, for filters alone, on the
// listings the build writes for each company and verdict; lists the matching checks.
// Every piece of content is inserted as text (textContent, text nodes): a title or an
// excerpt can never become HTML. The only element taken from Pagefind's excerpt is its
// <mark> highlighting, rebuilt here from an inert parsed copy.
(function () {
  "use strict";

  var PAGE_SIZE = 10;
  var form = document.getElementById("fs-search-form");
  if (!form || !window.URLSearchParams) return;
  var status = document.getElementById("fs-search-status");
  var list = document.getElementById("fs-search-results");
  var more = document.getElementById("fs-search-more");
  var verdictSelect = form.elements.verdict;
  var companySelect = form.elements.company;

  var params = new URLSearchParams(window.location.search);
  var query = (params.get("q") || "").trim();
  var verdict = choose(verdictSelect, params.get("verdict"));
  var company = choose(companySelect, params.get("company"));
  form.elements.q.value = query;

  // Select the option with this value; a value the page does not offer is ignored.
  function choose(select, value) {
    for (var i = 0; i < select.options.length; i++) {
      if (value && select.options[i].value === value) {
        select.selectedIndex = i;
        return value;
      }
    }
    return "";
  }

  function optionFor(select, value) {
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === value) return select.options[i];
    }
    return null;
  }

  function element(name, className, text) {
    var node = document.createElement(name);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  // Pagefind's excerpt is HTML: escaped text with <mark> around the matches. Parse it in
  // an inert document (nothing loads or runs there) and copy only text and <mark>s.
  function excerpt(html) {
    var paragraph = element("p", "card-claim result-excerpt");
    var parsed = new DOMParser().parseFromString("<p>" + html + "</p>", "text/html");
    var source = parsed.body.firstChild;
    (function copy(from, to) {
      for (var node = from.firstChild; node; node = node.nextSibling) {
        if (node.nodeType === 3) {
          to.appendChild(document.createTextNode(node.nodeValue));
        } else if (node.nodeType === 1 && node.nodeName === "MARK") {
          to.appendChild(element("mark", "", node.textContent));
        } else if (node.nodeType === 1) {
          copy(node, to);
        }
      }
    })(source, paragraph);
    return paragraph;
  }

  function badge(verdictId) {
    var option = optionFor(verdictSelect, verdictId);
    var span = element("span", "verdict");
    if (!option) {
      span.textContent = verdictId;
      return span;
    }
    span.style.setProperty("--verdict", option.getAttribute("data-color"));
    span.style.setProperty("--verdict-text", option.getAttribute("data-text"));
    span.appendChild(element("span", "visually-hidden", "Verdict: "));
    span.appendChild(document.createTextNode(option.textContent));
    return span;
  }

  function card(data) {
    var meta = data.meta || {};
    var item = element("li");
    var article = element("article", "card");
    var line = element("p", "card-meta");
    line.appendChild(badge(meta.verdict || ""));
    if (meta.date) {
      line.appendChild(document.createTextNode(" "));
      var time = element("time", "", meta.date);
      if (meta.isodate) time.setAttribute("datetime", meta.isodate);
      line.appendChild(time);
    }
    var heading = element("h2", "card-title");
    var link = element("a", "", meta.title || data.url);
    link.href = data.url;
    heading.appendChild(link);
    article.appendChild(line);
    article.appendChild(heading);
    if (data.claim !== undefined) {
      article.appendChild(element("p", "card-claim", data.claim)); // a listing: the claim
    } else {
      article.appendChild(excerpt(data.excerpt || ""));
    }
    item.appendChild(article);
    return item;
  }

  function describe(count) {
    var text = count === 0 ? "No checks found" : count === 1 ? "1 check found" : count + " checks found";
    if (query) text += " for “" + query + "”";
    if (verdict) text += ", rated " + optionFor(verdictSelect, verdict).textContent;
    if (company) text += ", about " + company;
    return text + ".";
  }

  if (!query && !verdict && !company) return; // an empty form: nothing asked yet

  // The index comes in shards (see docs/readers.md); the first is Pagefind's main
  // index, the others are merged into it.
  var shards = (form.getAttribute("data-shards") || "").split(" ").filter(Boolean);
  var filters = {};
  if (verdict) filters.verdict = verdict;
  if (company) filters.company = company;

  // Words: results by relevance from the index (Pagefind merges the shards by score).
  function byRelevance() {
    return import(shards[0] + "pagefind.js").then(function (pagefind) {
      return pagefind
        .options({ basePath: shards[0], baseUrl: "/" })
        .then(function () {
          return Promise.all(shards.slice(1).map(function (path) {
            return pagefind.mergeIndex(path, { baseUrl: "/" });
          }));
        })
        .then(function () { return pagefind.search(query, { filters: filters }); });
    }).then(function (search) {
      var results = search.results;
      var next = 0;
      return {
        count: results.length,
        take: function (n) {
          var page = results.slice(next, next + n);
          next += page.length;
          return Promise.all(page.map(function (result) { return result.data(); }));
        },
      };
    });
  }

  // Filters alone: a listing, newest first, from the JSON pages the build writes for
  // each company and verdict (Pagefind would download its whole word index for a query
  // without words). A company's list is read whole when a verdict narrows it.
  function newestFirst() {
    var companyOption = company ? optionFor(companySelect, company) : null;
    var next = (companyOption || optionFor(verdictSelect, verdict)).getAttribute("data-listing");
    var narrow = companyOption && verdict;
    var waiting = [];
    var total = 0;

    function fetchPage() {
      return fetch(next).then(function (response) {
        if (!response.ok) throw new Error("listing " + next + ": " + response.status);
        return response.json();
      }).then(function (page) {
        next = page.next;
        page.checks.forEach(function (check) {
          if (narrow && check[4] !== verdict) return;
          waiting.push({ url: check[0], claim: check[5], meta: {
            title: check[1], date: check[2], isodate: check[3], verdict: check[4] } });
        });
        total = narrow ? waiting.length : page.total;
      });
    }
    function fill(n) {
      return waiting.length >= n || !next ? Promise.resolve() : fetchPage().then(function () {
        return fill(n);
      });
    }
    return fill(narrow ? Infinity : 1).then(function () {
      return {
        count: total,
        take: function (n) {
          return fill(n).then(function () { return waiting.splice(0, n); });
        },
      };
    });
  }

  var source = null;
  var shown = 0;

  function showMore() {
    return source.take(PAGE_SIZE).then(function (pages) {
      shown += pages.length;
      more.hidden = shown >= source.count;
      pages.forEach(function (data) { list.appendChild(card(data)); });
    });
  }

  more.addEventListener("click", function () {
    var first = shown;
    more.disabled = true;
    showMore().then(function () {
      more.disabled = false;
      // Move focus to the first new result so keyboard users continue from there.
      var link = list.children[first] && list.children[first].querySelector("a");
      if (link) link.focus();
    });
  });

  status.textContent = "Searching…";
  list.setAttribute("aria-busy", "true");
  (query ? byRelevance() : newestFirst())
    .then(function (found) {
      source = found;
      return showMore().then(function () {
        status.textContent = describe(source.count);
      });
    })
    .catch(function () {
      status.textContent = "Search is not available right now. Browse the companies or verdicts instead.";
    })
    .then(function () {
      list.setAttribute("aria-busy", "false");
    });
})();
