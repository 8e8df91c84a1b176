"""The pages' style and script, inlined into every page (nothing is fetched from elsewhere)."""

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#263238;color:#eee;padding:8px 16px}header a{color:#fff}
header .muted{color:#b0bec5}main{padding:8px 16px}h1{font-size:20px}h2{font-size:16px;margin:18px 0 6px}
.muted{color:#777;font-size:12px}.error{color:#b71c1c}a.home{font-weight:bold;margin-right:8px}
table.grid{border-collapse:collapse;font-size:12px}table.grid th,table.grid td{border:1px solid #fff;padding:2px 6px}
table.grid thead th{background:#eceff1;vertical-align:bottom;text-align:left}
table.grid td{min-width:54px;text-align:center}table.grid tbody th{text-align:left;font-weight:normal}
.st-done{background:#43a047;color:#fff}.st-failed{background:#e53935;color:#fff}
.st-running{background:#1e88e5;color:#fff}.st-pending{background:#e0e0e0;color:#555}
.st-excluded{background:repeating-linear-gradient(45deg,#9e9e9e,#9e9e9e 4px,#bdbdbd 4px,#bdbdbd 8px);color:#fff}
tr.excluded th{color:#999;text-decoration:line-through}
.chip{display:inline-block;border-radius:3px;padding:0 6px;margin:1px;min-width:12px;text-align:center}
details.failure{background:#fff;border-left:4px solid #e53935;margin:4px 0;padding:4px 8px}
pre{background:#263238;color:#eceff1;padding:6px;overflow:auto;max-height:320px;font-size:12px}
figure{display:inline-block;vertical-align:top;margin:4px 12px 12px 0}figcaption{font-size:12px;color:#555}
img.qc{max-width:100%;display:block;border:1px solid #ddd;background:#000;image-rendering:pixelated}
img.qc-thumbnails{max-width:720px}.tilts{display:flex;flex-wrap:wrap;gap:6px}
.tilt{width:112px;background:#fff;border:2px solid #c8e6c9;padding:4px;font-size:11px}
.tilt.dropped{border-color:#e53935;background:#ffebee}.tilt.open{border-color:#e0e0e0}
.tilt.dropped .thumb{opacity:.45}.decision{margin-top:2px;color:#444;min-height:28px}
.thumb{display:block;width:96px;height:96px;margin:0 auto 2px;background-repeat:no-repeat;background-color:#000}
button.curate{font-size:12px}#message{position:fixed;bottom:8px;right:8px;
background:#263238;color:#fff;padding:6px 10px;border-radius:4px;display:none}
"""

# Live view only (body data-live=1): curation buttons post to api/curation with the token in a
# header (a cross-site page cannot set it: the token is what makes the request ours); the page
# polls api/state and reloads, at the same scroll position, when the project changed.
SCRIPT = """
(function(){
var body=document.body;if(body.dataset.live!=="1")return;
var top=body.dataset.top,token=(document.querySelector('meta[name=crboost-token]')||{}).content;
var key="crboost-scroll:"+location.pathname;
var y=sessionStorage.getItem(key);if(y!==null){window.scrollTo(0,+y);sessionStorage.removeItem(key);}
function reload(){sessionStorage.setItem(key,String(window.scrollY));location.reload();}
var box=document.createElement("div");box.id="message";body.appendChild(box);
function say(text){box.textContent=text;box.style.display="block";}
document.addEventListener("click",function(ev){
  var b=ev.target.closest("button.curate");if(!b)return;b.disabled=true;
  var data={ts:b.dataset.ts,action:b.dataset.action};if(b.dataset.tilt)data.tilt=b.dataset.tilt;
  fetch(top+"api/curation",{method:"POST",headers:{"Content-Type":"application/json",
    "X-Crboost-Token":token},body:JSON.stringify(data),credentials:"same-origin"})
  .then(function(r){return r.json().then(function(j){return [r.ok,j];});})
  .then(function(res){if(res[0]){say(res[1].message);setTimeout(reload,300);}
    else{say(res[1].error||"refused");b.disabled=false;}})
  .catch(function(e){say(String(e));b.disabled=false;});
});
setInterval(function(){
  fetch(top+"api/state",{credentials:"same-origin"}).then(function(r){return r.json();})
  .then(function(s){if(s.version!==body.dataset.version)reload();}).catch(function(){});
},5000);
})();
"""
