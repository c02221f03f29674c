// Runs a CloudFront Function's code (cloudfront-js-2.0) against viewer
// requests, as CloudFront calls it: `node run.js CODE_FILE CASES_FILE`.
// CASES_FILE is a JSON list of URIs; prints a JSON list with, for each, the
// URI S3 is asked for or the redirect the function answers.
'use strict';
const fs = require('fs');
const code = fs.readFileSync(process.argv[2], 'utf8');
const uris = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
const handler = new Function(code + '\nreturn handler;')();
const results = uris.map((uri) => {
  const event = {
    version: '1.0',
    context: {eventType: 'viewer-request'},
    viewer: {ip: '192.0.2.1'},
    request: {method: 'GET', uri, querystring: {}, headers: {host: {value: 'example.com'}}, cookies: {}},
  };
  const out = handler(event);
  if (out.statusCode !== undefined) {
    return {redirect: out.statusCode, location: out.headers.location.value, description: out.statusDescription};
  }
  return {uri: out.uri};
});
process.stdout.write(JSON.stringify(results));
