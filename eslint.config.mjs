// Lint and format in the Effect style: eslint with @effect/eslint-plugin, whose `@effect/dprint` rule formats with
// dprint's TypeScript plugin (shipped as wasm inside npm packages, so it works offline) using the Effect repository's
// settings. `npm run lint` checks, `npm run lint:fix` formats.
import * as effectEslint from "@effect/eslint-plugin"
import eslint from "@eslint/js"
import globals from "globals"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["**/dist", "**/node_modules", "docs/reference/**", "scratch/**", "**/*.md"] },
  eslint.configs.recommended,
  { languageOptions: { globals: { ...globals.node } } },
  tseslint.configs.recommended,
  {
    plugins: { "@effect": effectEslint },
    rules: {
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/no-namespace": "off",
      "no-constant-condition": ["error", { checkLoops: false }]
    }
  },
  {
    // benchmark clients accumulate values they never read, so that each client does the same work per message
    files: ["bench/**/*.ts"],
    rules: { "@typescript-eslint/no-unused-vars": ["error", { vars: "local", varsIgnorePattern: "^(bytes|sum|_)" }] }
  },
  {
    // the protocol core is Effect-free, so that a second Effect binding (Effect 4) can share it
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [{ group: ["effect", "effect/*", "@effect/*"], message: "src/core/ must not depend on Effect." }]
      }]
    }
  }
)
