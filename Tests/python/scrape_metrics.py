"""Scrapes GET /metrics over mutual TLS and parses it with prometheus_client's own
text-format parser (an independent reader of the exposition format).

usage: scrape_metrics.py URL CA CERT KEY
prints one JSON object: {"status", "contentType", "families": {name: {"type", "samples": [[name, labels, value]]}}, "text"}
exit 1 if the text does not parse.
"""
import json
import ssl
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

url, ca, cert, key = sys.argv[1:5]
context = ssl.create_default_context(cafile=ca)
context.load_cert_chain(cert, key)
try:
    with urllib.request.urlopen(url, context=context, timeout=30) as answer:
        status, content_type, text = answer.status, answer.headers.get("Content-Type"), answer.read().decode()
except urllib.error.HTTPError as refused:
    print(json.dumps({"status": refused.code, "contentType": refused.headers.get("Content-Type"), "families": {}, "text": refused.read().decode()}))
    sys.exit(0)

families = {}
for family in text_string_to_metric_families(text):
    families[family.name] = {
        "type": family.type,
        "samples": [[sample.name, sample.labels, sample.value] for sample in family.samples],
    }
print(json.dumps({"status": status, "contentType": content_type, "families": families, "text": text}))
