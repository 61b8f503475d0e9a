// The catalog page's filters: a search box and three selects; a row shows when it matches all four. No network.
(function () {
  var search = document.getElementById('catalog-search');
  var selects = ['class', 'group', 'status'].map(function (k) { return [k, document.getElementById('filter-' + k)]; });
  var rows = Array.prototype.slice.call(document.querySelectorAll('#catalog-table tbody tr'));
  var count = document.getElementById('catalog-count');
  function apply() {
    var words = search.value.toLowerCase().split(/\s+/).filter(function (w) { return w.length > 0; });
    var shown = 0;
    rows.forEach(function (row) {
      var text = row.getAttribute('data-search');
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; })
        && selects.every(function (s) { return !s[1].value || row.getAttribute('data-' + s[0]) === s[1].value; });
      row.hidden = !ok;
      if (ok) shown++;
    });
    count.textContent = shown + ' of ' + rows.length + ' papers';
  }
  search.addEventListener('input', apply);
  selects.forEach(function (s) { s[1].addEventListener('change', apply); });
  // catalog.html#q=words opens the page with a search
  var m = /^#q=(.*)$/.exec(window.location.hash);
  if (m) search.value = decodeURIComponent(m[1].replace(/\+/g, ' '));
  apply();
})();
