// factsite search page: runs the query in the address (?q=…&verdict=…&company=…) on the
// Pagefind index built with the site, and lists the matching checks.
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
    article.appendChild(excerpt(data.excerpt || ""));
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

  var results = [];
  var shown = 0;

  function showMore() {
    var next = results.slice(shown, shown + PAGE_SIZE);
    shown += next.length;
    more.hidden = shown >= results.length;
    return Promise.all(next.map(function (result) { return result.data(); })).then(function (pages) {
      pages.forEach(function (data) { list.appendChild(card(data)); });
    });
  }

  more.addEventListener("click", function () {
    var first = shown;
    showMore().then(function () {
      // Move focus to the first new result so keyboard users continue from there.
      var link = list.children[first] && list.children[first].querySelector("a");
      if (link) link.focus();
    });
  });

  status.textContent = "Searching…";
  list.setAttribute("aria-busy", "true");
  var bundle = form.getAttribute("data-bundle");
  import(bundle + "pagefind.js")
    .then(function (pagefind) {
      return pagefind.options({ basePath: bundle, baseUrl: "/" }).then(function () {
        var filters = {};
        if (verdict) filters.verdict = verdict;
        if (company) filters.company = company;
        var options = { filters: filters };
        if (!query) options.sort = { date: "desc" }; // filters alone: newest first
        return pagefind.search(query || null, options);
      });
    })
    .then(function (search) {
      results = search.results;
      return showMore().then(function () {
        status.textContent = describe(results.length);
      });
    })
    .catch(function () {
      status.textContent = "Search is not available right now. Browse the companies or verdicts instead.";
    })
    .then(function () {
      list.setAttribute("aria-busy", "false");
    });
})();
