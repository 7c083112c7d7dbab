/// The pages' one stylesheet, served from this origin (`style-src 'self'`): readable on a
/// laptop and a phone, visible focus, and colours with at least 4.5:1 contrast.
enum PageStylesheet {
    static let css = """
    :root { color-scheme: light; font-family: system-ui, sans-serif; line-height: 1.5; color: #1a1a1a; background: #ffffff; }
    body { margin: 0 auto; max-width: 60rem; padding: 0 1rem 2rem; }
    header { border-bottom: 1px solid #767676; padding: .5rem 0; }
    nav { display: flex; flex-wrap: wrap; gap: .25rem 1rem; }
    nav a { white-space: nowrap; }
    a { color: #0b4f9c; }
    a:focus, button:focus, input:focus, textarea:focus, select:focus { outline: 3px solid #b35900; outline-offset: 2px; }
    .skip { position: absolute; left: -10000px; }
    .skip:focus { position: static; }
    .who { margin: .25rem 0 0; font-size: .9rem; }
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: left; border-bottom: 1px solid #767676; padding: .35rem .5rem; vertical-align: top; }
    tr.overdue td, .overdue { color: #b00020; font-weight: bold; }
    .urgent { color: #b00020; }
    .error { border-left: 4px solid #b00020; padding: .5rem .75rem; background: #fdecee; color: #1a1a1a; }
    label { display: block; margin-top: .75rem; font-weight: 600; }
    label.choice { display: inline; font-weight: normal; margin-right: 1rem; }
    label.choice-row { font-weight: normal; margin-top: .35rem; }
    fieldset { margin-top: 1rem; }
    textarea, input:not([type=radio]), select { width: 100%; max-width: 40rem; font: inherit; padding: .3rem; box-sizing: border-box; }
    button { margin-top: 1rem; font: inherit; padding: .4rem 1rem; background: #0b4f9c; color: #ffffff; border: 0; border-radius: 3px; }
    form > button { display: block; }
    form.inline label { display: inline; }
    form.inline input { width: auto; }
    .serial { font-family: monospace; word-break: break-all; }
    pre.pem { font-size: .8rem; white-space: pre-wrap; word-break: break-all; background: #f4f4f4; padding: .5rem; }
    .hint { font-size: .9rem; margin: .25rem 0 0; }
    input[type=checkbox] { width: auto; }
    dl.fields dt { font-family: monospace; }
    @media (max-width: 40rem) { th, td { display: block; } thead { display: none; } }
    """
}
