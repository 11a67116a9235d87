// cds loads srv/*.ts only when it knows it runs under TypeScript.
module.exports = async () => {
  process.env.CDS_TYPESCRIPT = 'true';
};
