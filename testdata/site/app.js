document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('app').insertAdjacentHTML('beforeend', '<p id="external-made">made by external script</p>');
});
