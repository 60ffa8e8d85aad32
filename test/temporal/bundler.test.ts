import { transpileThisPackage } from '../../src/temporal/bundler.js';

describe("the workflow bundler's TypeScript rule", () => {
  it('transpiles this package inside node_modules and still skips other packages', () => {
    const tsRule = { test: /\.ts$/, exclude: /node_modules/ };
    const jsRule = { test: /\.js$/, exclude: /node_modules/ };
    transpileThisPackage({ module: { rules: [tsRule, jsRule] } });
    const excluded = tsRule.exclude;
    expect(excluded.test('/app/node_modules/temporal-mlflow/workflows/index.ts')).toBe(false);
    expect(excluded.test('/app/node_modules/some-lib/index.ts')).toBe(true);
    expect(excluded.test('/app/src/workflows.ts')).toBe(false);
    expect(jsRule.exclude.source).toBe('node_modules');
  });
});
