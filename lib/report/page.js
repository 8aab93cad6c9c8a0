// The report page's script (inlined by lib/report.js). Plain DOM code; every string from the
// heap is set with textContent or as an attribute value, never parsed as HTML.
;(function () {
  'use strict'
  var data = JSON.parse(document.getElementById('heapsnap-data').textContent)
  var app = document.getElementById('app')

  // ------------------------------------------------------------------------------- helpers
  function el(tag, attrs, children) {
    var e = document.createElement(tag)
    if (attrs) {
      for (var k in attrs) {
        if (attrs[k] === undefined || attrs[k] === null) continue
        if (k === 'text') e.textContent = String(attrs[k])
        else if (k === 'class') e.className = attrs[k]
        else if (k === 'style') e.style.cssText = attrs[k]
        else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), attrs[k])
        else e.setAttribute(k, String(attrs[k]))
      }
    }
    if (children) {
      for (var i = 0; i < children.length; i++) {
        var c = children[i]
        if (c === null || c === undefined) continue
        e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c)
      }
    }
    return e
  }
  var nf = new Intl.NumberFormat('en-US')
  function group(n) {
    return nf.format(Math.round(n))
  }
  function signed(n) {
    return (n > 0 ? '+' : n < 0 ? '−' : '') + group(Math.abs(n))
  }
  var UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  function bytes(n) {
    var neg = n < 0
    n = Math.abs(n)
    var u = 0
    while (n >= 1024 && u < UNITS.length - 1) {
      n /= 1024
      u++
    }
    var s = u === 0 ? group(n) + ' B' : (n >= 100 ? n.toFixed(0) : n.toFixed(1)) + ' ' + UNITS[u]
    return (neg ? '−' : '') + s
  }
  function signedBytes(n) {
    return (n > 0 ? '+' : '') + bytes(n)
  }
  function pct(part, whole) {
    return whole > 0 ? ((100 * part) / whole).toFixed(1) + ' %' : '–'
  }
  function fact(label, value) {
    return el('div', null, [el('dt', { text: label }), el('dd', { text: value })])
  }
  var total = data.file.totalSize
  var PALETTE = [
    '#4e79a7',
    '#f28e2b',
    '#e15759',
    '#76b7b2',
    '#59a14f',
    '#b07aa1',
    '#9c755f',
    '#bab0ac',
    '#edc948',
    '#ff9da7',
  ]

  // -------------------------------------------------------------------------------- header
  function header() {
    var f = data.file
    var h = el('header', null, [
      el('h1', { text: 'Heap snapshot report: ' + f.path.split(/[\\/]/).pop() }),
      el('p', { class: 'muted', text: f.path }),
    ])
    var dl = el('dl', { class: 'facts' }, [
      fact('File size', bytes(f.fileSize) + (f.gzip ? ' (gzip)' : '')),
      fact('Nodes', group(f.nodeCount)),
      fact('Edges', group(f.edgeCount)),
      fact('Heap total (sum of shallow sizes)', bytes(f.totalSize)),
      fact('Classes', group(data.classCount)),
    ])
    h.appendChild(dl)
    var sc = data.sidecar
    if (sc) {
      var facts = []
      var pick = function (label, v, fmt) {
        if (v === undefined || v === null || v === '') return
        facts.push(fact(label, fmt ? fmt(v) : typeof v === 'object' ? JSON.stringify(v) : String(v)))
      }
      pick('Node.js', sc.node || sc.nodeVersion || (sc.versions && sc.versions.node))
      pick('V8', sc.v8 || sc.v8Version || (sc.versions && sc.versions.v8))
      pick('pid', sc.pid)
      pick('Host', sc.hostname || sc.host)
      pick('Trigger', sc.trigger)
      pick('Taken at', sc.startTime || sc.time)
      pick('Platform', sc.platform && sc.arch ? sc.platform + ' ' + sc.arch : sc.platform)
      pick('Thread', sc.threadId === undefined ? null : sc.threadId + (sc.isMainThread ? ' (main)' : ' (worker)'))
      pick('Engine', sc.engine)
      pick('Stall (JS thread blocked)', sc.stallMs, function (v) {
        return group(v) + ' ms'
      })
      var mu = sc.memoryUsage || sc.memory
      if (mu && typeof mu === 'object') {
        for (var k in mu) if (typeof mu[k] === 'number') pick('memoryUsage.' + k, mu[k], bytes)
      }
      var hs = sc.heapStatistics || sc.heap
      if (hs && typeof hs === 'object') {
        for (var k2 in hs)
          if (typeof hs[k2] === 'number') pick('heap.' + k2, hs[k2], /size|memory|bytes/i.test(k2) ? bytes : group)
      }
      if (facts.length) {
        h.appendChild(el('h2', { text: 'Process (sidecar)' }))
        h.appendChild(el('dl', { class: 'facts', id: 'sidecar' }, facts))
      }
    }
    var s = data.statistics
    var parts = data.statisticsParts
    var bar = el('div', { class: 'stats-bar', role: 'img', 'aria-label': 'Statistics: share of ' + bytes(s.total) })
    var legend = el('ul', { class: 'legend' })
    parts.forEach(function (p, i) {
      var v = Math.max(0, p[1])
      bar.appendChild(
        el('span', {
          style: 'width:' + (s.total > 0 ? (100 * v) / s.total : 0) + '%;background:' + PALETTE[i],
          title: p[0] + ': ' + bytes(v),
        }),
      )
      legend.appendChild(
        el('li', null, [
          el('span', { class: 'swatch', style: 'background:' + PALETTE[i] }),
          p[0] + ' ' + bytes(v) + ' (' + pct(v, s.total) + ')',
        ]),
      )
    })
    h.appendChild(el('h2', { text: 'Statistics (total ' + bytes(s.total) + ')' }))
    h.appendChild(bar)
    h.appendChild(legend)
    return h
  }

  // --------------------------------------------------------------------------- leak report
  function pathView(text) {
    return el('div', { class: 'path', text: text })
  }
  function leaksSection() {
    var L = data.leaks
    var sec = el('section', { id: 'leaks', 'aria-labelledby': 'leaks-h' }, [
      el('h2', { id: 'leaks-h', text: 'Leaks (' + L.rows.length + ' rows)' }),
    ])
    if (!L.rows.length)
      sec.appendChild(
        el('p', {
          text: 'The leak report has no rows: nothing allocated between the first two snapshots kept growing.',
        }),
      )
    L.rows.forEach(function (r) {
      var box = el('div', { class: 'leak' }, [
        el('h3', { text: r.className }),
        el('p', {
          text:
            group(r.count) +
            ' objects, shallow ' +
            bytes(r.shallowSize) +
            ', retained ' +
            bytes(r.retainedSize) +
            (r.growth ? '; count over the snapshots: ' + r.growth.count.map(group).join(' → ') : ''),
        }),
        pathView(r.path),
      ])
      if (r.allocationSites && r.allocationSites.length) {
        var ul = el('ul')
        r.allocationSites.forEach(function (a) {
          ul.appendChild(
            el('li', {
              text:
                (a.functionName || '(anonymous)') +
                ' ' +
                a.url +
                ':' +
                a.line +
                ':' +
                a.column +
                ' — ' +
                bytes(a.bytes),
            }),
          )
        })
        box.appendChild(el('p', { class: 'muted', text: 'Allocation sites:' }))
        box.appendChild(ul)
      }
      sec.appendChild(box)
    })
    return sec
  }

  // ------------------------------------------------------------------------------- treemap
  // Squarified layout (Bruls, Huizing, van Wijk): children sorted by value, laid in rows
  // along the shorter side while the worst aspect ratio improves.
  function squarify(items, x, y, w, h) {
    var out = []
    var sum = 0
    items.forEach(function (it) {
      sum += it.value
    })
    if (sum <= 0 || w <= 0 || h <= 0) return out
    var scale = (w * h) / sum
    var rest = items.map(function (it) {
      return { item: it, area: it.value * scale }
    })
    function worst(row, side) {
      var s = 0
      var mx = 0
      var mn = Infinity
      row.forEach(function (r) {
        s += r.area
        mx = Math.max(mx, r.area)
        mn = Math.min(mn, r.area)
      })
      var s2 = s * s
      var side2 = side * side
      return Math.max((side2 * mx) / s2, s2 / (side2 * mn))
    }
    var i = 0
    while (i < rest.length) {
      var side = Math.min(w, h)
      var row = [rest[i]]
      i++
      while (i < rest.length && worst(row.concat([rest[i]]), side) <= worst(row, side)) {
        row.push(rest[i])
        i++
      }
      var rowArea = 0
      row.forEach(function (r) {
        rowArea += r.area
      })
      var thick = rowArea / side
      var off = 0
      row.forEach(function (r) {
        var len = r.area / thick
        if (w >= h) out.push({ item: r.item, x: x, y: y + off, w: thick, h: len })
        else out.push({ item: r.item, x: x + off, y: y, w: len, h: thick })
        off += len
      })
      if (w >= h) {
        x += thick
        w -= thick
      } else {
        y += thick
        h -= thick
      }
    }
    return out
  }

  // The tree: classes by retained size, then their biggest instances (with the rest of the
  // class as one block), then each instance's retainer path, nearest holder first.
  function buildTree() {
    var root = { name: 'All classes', value: 0, children: [] }
    var classes = data.classes
      .filter(function (c) {
        return c.retainedSize > 0
      })
      .sort(function (a, b) {
        return b.retainedSize - a.retainedSize
      })
      .slice(0, 60)
    classes.forEach(function (c, i) {
      var node = {
        name: c.name,
        value: c.retainedSize,
        color: PALETTE[i % PALETTE.length],
        kind: 'class',
        detail: group(c.count) + ' objects',
      }
      var inst = data.instances[c.name]
      if (inst && inst.length) {
        var used = 0
        node.children = inst.map(function (p) {
          used += p.object.retainedSize
          var inode = {
            name: p.object.name + ' @' + p.object.id,
            value: Math.max(1, p.object.retainedSize),
            kind: 'instance',
            detail: 'self ' + bytes(p.object.selfSize),
          }
          if (p.children && p.children.length) {
            var held = 0
            inode.children = p.children.map(function (k) {
              held += k.retainedSize
              return {
                name: k.name + ' @' + k.id,
                value: Math.max(1, k.retainedSize),
                kind: 'retained',
                detail: 'self ' + bytes(k.selfSize),
              }
            })
            var restOwn = p.object.retainedSize - held
            if (restOwn > 0)
              inode.children.push({
                name: 'itself and the rest it retains',
                value: restOwn,
                kind: 'rest',
                detail: 'self ' + bytes(p.object.selfSize),
              })
          }
          return inode
        })
        if (c.retainedSize - used > 0)
          node.children.push({
            name: 'other ' + c.name + ' objects',
            value: c.retainedSize - used,
            kind: 'rest',
            detail: group(c.count - inst.length) + ' objects',
          })
      }
      root.children.push(node)
      root.value += c.retainedSize
    })
    return root
  }

  var tmRoot
  var tmStack = []
  var tmBox
  var tmCrumbs
  function treemapSection() {
    tmRoot = buildTree()
    tmStack = [tmRoot]
    tmCrumbs = el('nav', { class: 'crumbs', 'aria-label': 'Treemap zoom' })
    tmBox = el('div', { class: 'treemap', id: 'treemap', role: 'group', 'aria-label': 'Retained size treemap' })
    return el('section', { id: 'treemap-section', 'aria-labelledby': 'tm-h' }, [
      el('h2', { id: 'tm-h', text: 'Retained size: classes, their biggest instances, what those retain' }),
      el('p', {
        class: 'muted',
        text: 'Area is retained size (bytes freed if the objects went away). Click or press Enter on a block to zoom in; the breadcrumb or Escape zooms out. Classes can hold one another, so their blocks may overlap in memory.',
      }),
      tmCrumbs,
      tmBox,
    ])
  }
  function drawTreemap() {
    var node = tmStack[tmStack.length - 1]
    tmCrumbs.textContent = ''
    tmStack.forEach(function (n, i) {
      if (i) tmCrumbs.appendChild(el('span', { class: 'muted', text: '›' }))
      var last = i === tmStack.length - 1
      tmCrumbs.appendChild(
        el('button', {
          type: 'button',
          text: i === 0 ? 'All classes (their retained sizes overlap)' : n.name + ' (' + bytes(n.value) + ')',
          'aria-current': last ? 'true' : null,
          onclick: function () {
            tmStack = tmStack.slice(0, i + 1)
            drawTreemap()
          },
        }),
      )
    })
    tmBox.textContent = ''
    var W = tmBox.clientWidth
    var H = tmBox.clientHeight
    var kids = (node.children || []).slice().sort(function (a, b) {
      return b.value - a.value
    })
    squarify(kids, 0, 0, W, H).forEach(function (r) {
      var n = r.item
      var zoomable = Boolean(n.children && n.children.length)
      var label =
        n.name +
        ': ' +
        bytes(n.value) +
        ' retained (' +
        pct(n.value, total) +
        ' of the heap)' +
        (n.detail ? ', ' + n.detail : '')
      var color = n.color || node.color || PALETTE[0]
      var rect = el(
        'div',
        {
          class: 'tm-rect' + (zoomable ? '' : ' leaf'),
          tabindex: '0',
          role: zoomable ? 'button' : 'img',
          title: label,
          'aria-label': label,
          'data-name': n.name,
          'data-kind': n.kind,
          style:
            'left:' +
            r.x +
            'px;top:' +
            r.y +
            'px;width:' +
            r.w +
            'px;height:' +
            r.h +
            'px;background:' +
            color +
            (n.kind === 'rest' ? ';opacity:0.6' : ''),
        },
        r.w > 40 && r.h > 16
          ? [
              el('span', { class: 'tm-label', text: n.name }),
              r.h > 32 ? el('span', { class: 'tm-size', text: bytes(n.value) }) : null,
            ]
          : null,
      )
      if (zoomable) {
        var zoom = function () {
          n.color = color
          tmStack.push(n)
          drawTreemap()
          var first = tmBox.querySelector('.tm-rect')
          if (first) first.focus()
        }
        rect.addEventListener('click', zoom)
        rect.addEventListener('keydown', function (e) {
          if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault()
            zoom()
          }
        })
      }
      tmBox.appendChild(rect)
    })
  }
  function zoomOut() {
    if (tmStack.length > 1) {
      tmStack.pop()
      drawTreemap()
    }
  }

  // ------------------------------------------------------------------------------- tables
  /**
   * A sortable table: columns { key, title, num, fmt, get }, rows; `expand(row)` returns the
   * detail content of a row or null when it has none.
   */
  function sortableTable(id, columns, rows, opts) {
    var state = { key: opts.sortKey, dir: -1, filter: '' }
    var table = el('table', { id: id })
    var colgroup = el('colgroup')
    columns.forEach(function (c, i) {
      colgroup.appendChild(el('col', { class: i === 0 ? 'c-name' : c.narrow ? 'c-s' : 'c-n' }))
    })
    table.appendChild(colgroup)
    var headRow = el('tr')
    var ths = columns.map(function (c) {
      var th = el('th', { scope: 'col', class: c.num ? 'num' : null, 'data-key': c.key })
      th.appendChild(
        el('button', {
          type: 'button',
          text: c.title,
          onclick: function () {
            if (state.key === c.key) state.dir = -state.dir
            else {
              state.key = c.key
              state.dir = c.num ? -1 : 1
            }
            render()
          },
        }),
      )
      headRow.appendChild(th)
      return th
    })
    table.appendChild(el('thead', null, [headRow]))
    var tbody = el('tbody')
    table.appendChild(tbody)
    var count = el('span', { class: 'muted', 'aria-live': 'polite' })
    var input = el('input', {
      type: 'search',
      placeholder: 'Filter by name',
      'aria-label': 'Filter ' + opts.label + ' by name',
      oninput: function () {
        state.filter = input.value.toLowerCase()
        render()
      },
    })
    function value(r, key) {
      var c = columns.filter(function (x) {
        return x.key === key
      })[0]
      return c.get ? c.get(r) : r[key]
    }
    function render() {
      ths.forEach(function (th) {
        var k = th.getAttribute('data-key')
        if (k === state.key) th.setAttribute('aria-sort', state.dir > 0 ? 'ascending' : 'descending')
        else th.removeAttribute('aria-sort')
      })
      var list = rows.filter(function (r) {
        return !state.filter || String(r.name).toLowerCase().indexOf(state.filter) >= 0
      })
      list.sort(function (a, b) {
        var x = value(a, state.key)
        var y = value(b, state.key)
        if (typeof x === 'string') return state.dir * x.localeCompare(y)
        return state.dir * ((x || 0) - (y || 0))
      })
      tbody.textContent = ''
      var shown = list.slice(0, opts.limit || 200)
      shown.forEach(function (r) {
        var tr = el('tr', { 'data-name': r.name })
        columns.forEach(function (c, i) {
          var td = el('td', { class: c.num ? 'num' : i === 0 ? 'name' : null })
          if (i === 0 && opts.expand && opts.expand(r, true)) {
            var btn = el('button', { type: 'button', class: 'expand', 'aria-expanded': 'false', text: r.name })
            btn.addEventListener('click', function () {
              var open = btn.getAttribute('aria-expanded') === 'true'
              btn.setAttribute('aria-expanded', open ? 'false' : 'true')
              if (open) tr.nextSibling.remove()
              else {
                var detail = el('tr', { class: 'detail' }, [
                  el('td', { colspan: String(columns.length) }, [opts.expand(r, false)]),
                ])
                tr.after(detail)
              }
            })
            td.appendChild(btn)
          } else if (c.fmt) c.fmt(r, td)
          else td.textContent = String(value(r, c.key))
          tr.appendChild(td)
        })
        tbody.appendChild(tr)
      })
      count.textContent =
        group(list.length) +
        ' of ' +
        group(rows.length) +
        ' rows' +
        (list.length > shown.length ? ', first ' + group(shown.length) + ' shown' : '')
    }
    render()
    return el('div', null, [
      el('div', { class: 'toolbar' }, [input, count]),
      el('div', { class: 'table-wrap' }, [table]),
    ])
  }

  function instancesView(c) {
    var inst = data.instances[c.name]
    var ol = el('ol', { class: 'paths' })
    inst.forEach(function (p) {
      var o = p.object
      var li = el('li', null, [
        el('div', {
          text:
            o.name +
            ' @' +
            o.id +
            ': self ' +
            bytes(o.selfSize) +
            ', retained ' +
            bytes(o.retainedSize) +
            (o.distance === null ? ', unreachable' : ', distance ' + o.distance),
        }),
      ])
      var pv = el('div', { class: 'path retainer-path' })
      if (!p.path.length) pv.textContent = '(no retainer path: held only by weak references)'
      else {
        if (p.truncated) pv.appendChild(document.createTextNode('… → '))
        p.path.forEach(function (s, i) {
          if (i) pv.appendChild(document.createTextNode(' → '))
          pv.appendChild(document.createTextNode(s.name + ' @' + s.id))
          if (s.edge !== null) pv.appendChild(el('span', { class: 'edge', text: ' .' + s.edge }))
        })
      }
      li.appendChild(pv)
      ol.appendChild(li)
    })
    return el('div', null, [
      el('p', { class: 'muted', text: 'Biggest instances, with the shortest retainer path from the GC roots:' }),
      ol,
    ])
  }

  function summarySection() {
    var cols = [
      { key: 'name', title: 'Class' },
      { key: 'count', title: 'Count', num: true, fmt: numCell('count') },
      { key: 'shallowSize', title: 'Shallow size', num: true, fmt: sizeCell('shallowSize') },
      { key: 'retainedSize', title: 'Retained size', num: true, fmt: sizeCell('retainedSize') },
      {
        key: 'share',
        title: 'Share',
        num: true,
        narrow: true,
        get: function (r) {
          return r.retainedSize
        },
        fmt: function (r, td) {
          td.textContent = pct(r.retainedSize, total)
        },
      },
    ]
    return el('section', { id: 'summary', 'aria-labelledby': 'sum-h' }, [
      el('h2', {
        id: 'sum-h',
        text: 'Summary (' + group(data.classCount) + ' classes; sizes in bytes, as DevTools counts them)',
      }),
      sortableTable('summary-table', cols, data.classes, {
        label: 'classes',
        sortKey: 'retainedSize',
        expand: function (r, test) {
          var has = Boolean(data.instances[r.name] && data.instances[r.name].length)
          return test ? has : instancesView(r)
        },
      }),
    ])
  }
  function numCell(key, sign) {
    return function (r, td) {
      td.textContent = sign ? signed(r[key]) : group(r[key])
    }
  }
  function sizeCell(key, sign) {
    return function (r, td) {
      var v = r[key]
      td.textContent = sign ? signedBytes(v) : bytes(v)
      td.title = (sign && v > 0 ? '+' : '') + group(v) + ' bytes'
      if (sign) td.className = 'num ' + (v > 0 ? 'pos-text' : v < 0 ? 'neg-text' : '')
    }
  }

  function comparisonSection() {
    var C = data.comparison
    var sec = el('section', { id: 'comparison', 'aria-labelledby': 'cmp-h' }, [
      el('h2', { id: 'cmp-h', text: 'Comparison with the baseline' }),
      el('p', {
        class: 'muted',
        text:
          'Baseline: ' +
          C.base.path +
          ' (' +
          bytes(C.base.fileSize) +
          ', ' +
          group(C.base.nodeCount) +
          ' nodes). Objects matched by id.',
      }),
    ])
    var top = C.classes
      .slice()
      .sort(function (a, b) {
        return Math.abs(b.sizeDelta) - Math.abs(a.sizeDelta)
      })
      .slice(0, 15)
      .sort(function (a, b) {
        return b.sizeDelta - a.sizeDelta
      })
    var max = 1
    top.forEach(function (d) {
      max = Math.max(max, Math.abs(d.sizeDelta))
    })
    var chart = el('div', {
      class: 'chart',
      id: 'delta-chart',
      role: 'list',
      'aria-label': 'Biggest size deltas per class',
    })
    top.forEach(function (d) {
      var w = (100 * Math.abs(d.sizeDelta)) / max
      var label = d.name + ': ' + signedBytes(d.sizeDelta) + ' (' + signed(d.deltaCount) + ' objects)'
      chart.appendChild(
        el('div', {
          class: 'label',
          role: 'listitem',
          title: label,
          'data-name': d.name,
          'data-delta': String(d.sizeDelta),
          text: d.name,
        }),
      )
      chart.appendChild(
        el(
          'div',
          { class: 'neg', 'aria-hidden': 'true' },
          d.sizeDelta < 0 ? [el('div', { class: 'bar', style: 'width:' + w + '%', title: label })] : null,
        ),
      )
      chart.appendChild(
        el('div', { class: 'pos', 'aria-hidden': 'true' }, [
          d.sizeDelta > 0 ? el('div', { class: 'bar', style: 'width:' + w * 0.8 + '%', title: label }) : null,
          el('span', {
            class: 'value',
            style: 'left:' + (d.sizeDelta > 0 ? w * 0.8 : 0) + '%;padding-left:4px',
            text: signedBytes(d.sizeDelta),
          }),
        ]),
      )
    })
    sec.appendChild(el('h3', { text: 'Biggest size deltas (freed ← → grown)' }))
    sec.appendChild(chart)
    var cols = [
      { key: 'name', title: 'Class' },
      { key: 'newCount', title: '# New', num: true, fmt: numCell('newCount') },
      { key: 'deletedCount', title: '# Deleted', num: true, fmt: numCell('deletedCount') },
      { key: 'deltaCount', title: '# Delta', num: true, fmt: numCell('deltaCount', true) },
      { key: 'allocSize', title: 'Alloc. size', num: true, fmt: sizeCell('allocSize') },
      { key: 'freedSize', title: 'Freed size', num: true, fmt: sizeCell('freedSize') },
      { key: 'sizeDelta', title: 'Size delta', num: true, fmt: sizeCell('sizeDelta', true) },
    ]
    sec.appendChild(
      sortableTable('comparison-table', cols, C.classes, { label: 'the comparison', sortKey: 'sizeDelta' }),
    )
    if (C.allocatedBetween) {
      sec.appendChild(el('h3', { text: 'Allocated between the two snapshots and still alive' }))
      sec.appendChild(
        sortableTable(
          'between-table',
          [
            { key: 'name', title: 'Class' },
            { key: 'count', title: 'Count', num: true, fmt: numCell('count') },
            { key: 'shallowSize', title: 'Shallow size', num: true, fmt: sizeCell('shallowSize') },
            { key: 'retainedSize', title: 'Retained size', num: true, fmt: sizeCell('retainedSize') },
          ],
          C.allocatedBetween,
          { label: 'allocated between', sortKey: 'retainedSize' },
        ),
      )
    }
    return sec
  }

  // -------------------------------------------------------------------------------- render
  app.textContent = ''
  app.appendChild(header())
  if (data.leaks) app.appendChild(leaksSection())
  app.appendChild(treemapSection())
  if (data.comparison) app.appendChild(comparisonSection())
  app.appendChild(summarySection())
  app.appendChild(
    el('footer', {
      text:
        'Written by ' +
        data.generator +
        ' at ' +
        data.generatedAt +
        ' (analysis ' +
        group(data.analysisMs) +
        ' ms). Aggregates only: the snapshot graph is not in this page.',
    }),
  )
  drawTreemap()
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') zoomOut()
  })
  var lastW = tmBox.clientWidth
  window.addEventListener('resize', function () {
    if (tmBox.clientWidth !== lastW) {
      lastW = tmBox.clientWidth
      drawTreemap()
    }
  })
  app.removeAttribute('aria-busy')
  document.documentElement.setAttribute('data-rendered', 'true')
  if (window.performance && performance.mark) performance.mark('rendered')
})()
