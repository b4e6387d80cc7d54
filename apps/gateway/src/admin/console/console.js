// The admin console's only script, a progressive enhancement: forms that remove or disable
// something ask first (data-confirm). Without JavaScript they simply submit.
document.addEventListener('submit', (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) event.preventDefault();
});
