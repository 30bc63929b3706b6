// The partial plotly.js bundles the pages load (web/plotly_bundle.py picks one): plotly.js's own
// esbuild settings (its esbuild-config.js), with only the trace types cityops draws registered.
// Run by scripts/build-plotly-bundles.sh; `node build.js OUTDIR`.
'use strict';

const fs = require('fs');
const path = require('path');
const esbuild = require('esbuild');
const { environmentPlugin } = require('esbuild-plugin-environment');
const { glsl } = require('esbuild-plugin-glsl');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');

const version = require('plotly.js/package.json').version;
// scatter is in plotly.js's core; "map" adds MapLibre (about 1.8 MB) for the cities with a base map.
const BUNDLES = {
    'plotly-cityops.min.js': ['bar', 'scattergl'],
    'plotly-cityops-map.min.js': ['bar', 'scattergl', 'scattermap', 'choroplethmap'],
};

async function build(outdir) {
    for (const [name, traces] of Object.entries(BUNDLES)) {
        const entry = "var Plotly = require('plotly.js/lib/core');\n"
            + `Plotly.register([${traces.map((t) => `require('plotly.js/lib/${t}')`).join(', ')}]);\n`
            + 'module.exports = Plotly;\n';
        await esbuild.build({
            stdin: { contents: entry, resolveDir: __dirname, sourcefile: name },
            absWorkingDir: __dirname,  // esbuild resolves the aliases from here
            outfile: path.join(outdir, name),
            // The first line is read back by web/plotly_bundle.py: keep its form.
            banner: { js: `/* plotly.js ${version} for cityops: traces scatter, ${traces.join(', ')}. `
                + 'Built by scripts/build-plotly-bundles.sh. MIT (plotly.js)'
                + (traces.includes('scattermap') ? ', BSD-3-Clause (MapLibre GL JS)' : '')
                + '; the licences of its other parts are at the end of this file. */' },
            format: 'iife', globalName: 'Plotly', bundle: true, minify: true, sourcemap: false,
            legalComments: 'eof',
            plugins: [InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
            alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
            define: { global: 'window', 'define.amd': 'false' },
            target: 'es2016',
            logLevel: 'warning',
        });
        console.log(`${name}: ${fs.statSync(path.join(outdir, name)).size.toLocaleString()} bytes`);
    }
}

build(path.resolve(process.argv[2] || '.')).catch((error) => { console.error(error); process.exit(1); });
