"""The HTML graph page in a real headless browser (Debian's chromium through selenium): it draws
ResNet-50 and the U-Net with their skip connections visible (checked on the screenshot's pixels),
binds sizes by evaluating the shipped formulas exactly as ``bind`` does, searches, collapses
blocks, explains nodes, and loads nothing from the network. The screenshots go to docs/."""

import io
import re
import shutil
from pathlib import Path

import pytest

import symshape as ss
from symshape import draw
from symshape.page import formula, page

EXAMPLES = Path(__file__).parents[1] / "examples"
DOCS = Path(__file__).parents[1] / "docs"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--window-size=1400,1000", "--force-device-scale-factor=1"]

pytestmark = pytest.mark.skipif(not draw.have_dot(), reason="graphviz's dot is not installed (apt-get install graphviz)")


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
    if not (CHROMIUM and DRIVER):
        pytest.skip("no chromium/chromedriver: apt-get install chromium chromium-driver (.ci/run does it)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pages")
    graphs = {name: ss.load_spec(EXAMPLES / f"{name}.yaml").infer() for name in ("resnet50", "unet")}
    for name, graph in graphs.items():
        (folder / f"{name}.html").write_text(page(graph), encoding="utf-8")
    return folder, graphs


def _open(browser, path: Path) -> None:
    """Load the page and wait (a loaded machine may take seconds) until its script says it is ready."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(path.as_uri())
    WebDriverWait(browser, 60, poll_frequency=0.05).until(
        lambda b: b.execute_script("return document.body.dataset.ready") == "true")


def _screenshot(browser, name: str) -> None:
    """Save the screenshot in docs/ unless the one there already shows the same (PNG bytes vary a little)."""
    import matplotlib.image
    import numpy as np

    path = DOCS / name
    new = browser.get_screenshot_as_png()
    if path.exists():
        old = matplotlib.image.imread(path)
        now = matplotlib.image.imread(io.BytesIO(new), format="png")
        if old.shape == now.shape and np.abs(old - now).max() < 0.05:
            return
    path.write_bytes(new)


def _pixels(browser):
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(browser.get_screenshot_as_png()), format="png")


EDGE_POINTS = """
const [id] = arguments, g = document.getElementById(id), path = g.querySelector("path");
const n = path.getTotalLength(), m = path.getScreenCTM(), out = [];
for (let k = 1; k < 20; k++) {
  const p = path.getPointAtLength(n * k / 20), q = new DOMPoint(p.x, p.y).matrixTransform(m);
  const top = document.elementFromPoint(q.x, q.y);
  const covered = !top || !!top.closest("g.node") || !top.closest("#canvas");
  out.push([q.x, q.y, covered]);
}
return out;
"""


def _visible_edge(browser, element_id: str) -> int:
    """How many points along the edge's path are on the canvas, uncovered, and drawn dark on screen."""
    points = browser.execute_script(EDGE_POINTS, element_id)
    image = _pixels(browser)
    seen = 0
    for x, y, covered in points:
        i, j = int(round(y)), int(round(x))
        if covered or not (1 <= i < image.shape[0] - 1 and 1 <= j < image.shape[1] - 1):
            continue
        darkest = image[i - 1:i + 2, j - 1:j + 2, :3].mean(axis=2).min()
        seen += darkest < 0.6  # the edges are #555555 on white
    return seen


def test_formulas_are_trees_of_the_exact_operations():
    H = ss.sym("H")
    d = ss.parse_dim("floor((H - 1)/4) + 2*H")
    assert formula(7) == 7 and formula(H) == ["s", "H"]
    assert formula(2**60) == ["i", str(2**60)]  # beyond a double's exact integers
    assert "floor" in str(formula(d))


def test_page_is_self_contained(pages):
    folder, _ = pages
    text = (folder / "resnet50.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)
    assert "<script src" not in text and "<link" not in text and "@import" not in text


def test_resnet50_page_draws_the_graph_and_its_skip_connections(browser, pages):
    folder, graphs = pages
    _open(browser, folder / "resnet50.html")
    graph = graphs["resnet50"]
    assert browser.execute_script("return document.querySelectorAll('.view:not([hidden]) g.node').length") \
        == graph.graph.number_of_nodes()
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0  # no network
    _screenshot(browser, "page-resnet50.png")
    image = _pixels(browser)
    assert (image[:, :, :3].mean(axis=2) < 0.9).mean() > 0.01  # something is drawn
    # the identity shortcut of layer1.1 runs beside the block's chain, and it can be seen
    browser.execute_script("symshape.focus('layer1.1.conv2', 1000)")
    assert _visible_edge(browser, "v0/e:layer1.0.relu3->layer1.1.add") >= 3
    _screenshot(browser, "page-resnet50-skip.png")


def test_unet_skip_connections_are_visible(browser, pages):
    folder, _ = pages
    _open(browser, folder / "unet.html")
    _screenshot(browser, "page-unet.png")
    assert _visible_edge(browser, "v0/e:enc1.relu2->up1.cat") >= 3
    assert _visible_edge(browser, "v0/e:enc2.relu2->up2.cat") >= 3


def _labels(browser, view: int = 0) -> dict[str, str]:
    return browser.execute_script("""
        const out = {};
        document.querySelectorAll(`.view[data-view="${arguments[0]}"] g.edge`).forEach(g => {
          out[g.id.slice(g.id.indexOf("/") + 3)] = g.querySelector("text").textContent; });
        return out;""", view)


@pytest.mark.parametrize("sizes", [{"B": 1, "H": 224, "W": 224}, {"B": 3, "H": 97, "W": 131}])
def test_binding_in_the_page_gives_the_shapes_bind_gives(browser, pages, sizes):
    folder, graphs = pages
    _open(browser, folder / "resnet50.html")
    symbolic = _labels(browser)
    browser.execute_script("symshape.setSizes(arguments[0])", ", ".join(f"{k}={v}" for k, v in sizes.items()))
    bound = graphs["resnet50"].bind(**sizes)
    expected = {f"{u}->{v}": draw.edge_label(d["shapes"]) for u, v, d in bound.graph.edges(data=True)}
    assert _labels(browser) == expected
    assert browser.execute_script("return document.getElementById('bind-status').textContent") == "all sizes bound"
    browser.execute_script("symshape.setSizes('')")
    assert _labels(browser) == symbolic  # cleared: the formulas again, as dot drew them


def test_conditions_turn_violated_and_met(browser, pages):
    folder, _ = pages
    _open(browser, folder / "unet.html")
    browser.execute_script("symshape.setSizes('H=30, W=32')")
    status = browser.execute_script("return [...document.querySelectorAll('#summary li')].map(li => "
                                    "[li.querySelector('code').textContent, li.dataset.holds])")
    assert ["H % 4 == 0", "false"] in status and ["W % 4 == 0", "true"] in status and ["H >= 4", "true"] in status
    assert "1 condition(s) violated" in browser.execute_script("return document.getElementById('bind-status').textContent")
    browser.execute_script("symshape.setSizes('H=x')")
    assert "NAME=N" in browser.execute_script("return document.getElementById('bind-status').textContent")


def test_search_collapse_and_details(browser, pages):
    folder, graphs = pages
    graph = graphs["resnet50"]
    _open(browser, folder / "resnet50.html")
    search = browser.find_element("id", "search")
    search.send_keys("downsample")
    hits = browser.execute_script("return document.querySelectorAll('.view:not([hidden]) g.node.hit').length")
    assert hits == sum("downsample" in n for n in graph.graph.nodes) == 8
    search.send_keys("\n")  # Enter: the first hit is focused and explained
    details = browser.find_element("id", "details").text
    assert "layer1.0.downsample.0 (LazyConv2d)" in details and "layer1.0.downsample.0.weight" in details
    explain = browser.execute_script("return document.querySelector('#details pre').textContent")
    assert explain == graph.explain("layer1.0.downsample.0")
    members = sum(n.startswith("layer2.") for n in graph.graph.nodes)
    browser.execute_script("symshape.toggle(0, 'layer2')")
    assert browser.execute_script("return document.querySelectorAll('.view[data-view=\"0\"] g.node.gone').length") \
        == members
    browser.execute_script("symshape.toggle(0, 'layer2')")
    assert browser.execute_script("return document.querySelectorAll('.view[data-view=\"0\"] g.node.gone').length") == 0


def test_block_views_fold_layers(browser, pages):
    folder, graphs = pages
    _open(browser, folder / "resnet50.html")
    options = browser.execute_script("return [...document.querySelectorAll('#view option')].map(o => o.textContent)")
    assert options == ["every layer", "blocks to depth 1", "blocks to depth 2", "blocks to depth 3"]
    browser.execute_script("symshape.show(2)")
    nodes = browser.execute_script("return [...document.querySelectorAll('.view[data-view=\"2\"] g.node')]"
                                   ".map(g => g.id.slice(3))")
    assert "n:layer3.4" in nodes and "n:layer3.4.conv1" not in nodes and len(nodes) == 4 + 16 + 3 + 1
    browser.execute_script("symshape.setSizes('B=1, H=224, W=224')")
    text = browser.execute_script("return document.getElementById('v2/n:layer4.0').textContent")
    assert "6,039,552 params" in text
    browser.execute_script("symshape.select('layer4.0')")
    assert "layer4.0 (block, 12 layers)" in browser.find_element("id", "details").text


@pytest.mark.parametrize("name", ["resnet50", "unet"])
def test_derivation_in_the_page_is_explain(browser, pages, name):
    folder, graphs = pages
    _open(browser, folder / f"{name}.html")
    texts = browser.execute_script("return Object.keys(symshape.data.nodes).map(n => [n, symshape.derivation(n)])")
    assert len(texts) == graphs[name].graph.number_of_nodes()
    for node, text in texts:
        assert text == graphs[name].explain(node), node


def test_widely_read_tensors_are_drawn_beside_their_readers():
    """Llama's rotary tables feed 64 layers: each reader gets a dashed copy (dot takes minutes otherwise)."""
    graph = ss.load_spec(EXAMPLES / "llama.yaml").infer()
    dot = draw.digraph(graph, ids="").source
    readers = [v for u, v in graph.graph.edges if u == "model.cos"]
    assert len(readers) == 64
    for v in readers:
        assert f'"model.cos@{v}" -> "{v}"' in dot
    assert '"model.cos" ->' not in dot
    svg = draw.render(graph, "svg", timeout=120).decode()
    assert svg.count("(drawn again: read by 64 layers)") == 128  # cos and sin, one copy per reader
